//! The Runtime API: wire format and the [`RuntimeMachine`].

mod error;
mod invocation;
mod machine;
mod mode;
pub mod requests;

pub use error::{ExitReason, Rejection, RuntimeError};
pub use invocation::{salvage_ids, ClientContext, CognitoIdentity, Invocation, InvocationError};
pub use machine::{ConfigError, RuntimeConfig, RuntimeEvent, RuntimeMachine};
pub use mode::{Mode, ModeError};
pub use requests::stream_error_trailers;
