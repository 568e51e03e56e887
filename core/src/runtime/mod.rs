//! The Runtime API: wire format and the [`RuntimeMachine`].

mod config;
mod error;
mod invocation;
mod machine;
mod mode;
pub mod requests;
mod slot;

pub use config::{ConfigError, RuntimeConfig, PIPELINED_MAX_BODY};
pub use error::{ExitReason, Rejection, RuntimeError};
pub use invocation::{salvage_ids, ClientContext, CognitoIdentity, Invocation, InvocationError};
pub use machine::{RuntimeEvent, RuntimeMachine};
pub use mode::{Mode, ModeError};
pub use requests::stream_error_trailers;
