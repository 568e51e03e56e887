//! Placeholder; docs below.
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod address;
mod attempt;
mod base64;
pub mod exchange;
pub mod extension;
pub mod headers;
pub mod ids;
pub mod report;
pub mod retry;
pub mod runtime;
pub mod telemetry;
pub mod wire;

pub use address::{AddressError, ApiAddress};
pub use exchange::{BodyMode, Call, Outbound, Timer, TimerReason, Token, TransportError, TransportErrorKind};
pub use ids::{DeadlineMs, ExtensionId, ExtensionName, IdError, InvocationId, RequestId};
pub use report::{ErrorReport, ServerError};
pub use retry::RetryPolicy;
