//! The platform side: a sans-IO server for the Runtime, Extensions and
//! Telemetry APIs. It backs the local emulator and the model checker.

mod event;
mod extension_api;
mod machine;
mod reply;
mod route;
mod runtime_api;
pub mod telemetry;

pub use event::{InitFailure, Outcome, PlatformEvent};
pub use machine::{ConnId, NewInvocation, PlatformConfig, PlatformError, PlatformMachine};
pub use route::Route;
pub use runtime_api::{body_read_limit, UnreadableBody, MAX_STREAMED_RESPONSE, TRUNCATED_RESPONSE};
