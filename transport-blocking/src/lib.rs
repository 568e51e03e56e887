//! Blocking (`std::net`, no async runtime) drivers for the `lambda-sansio`
//! machines: small binaries, fast cold starts.
//!
//! ```no_run
//! use lambda_sansio_blocking::{json, run, Context, HandlerError};
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     run(json(|event: serde_json::Value, _: &Context| Ok::<_, HandlerError>(event)))?;
//!     Ok(())
//! }
//! ```

#![cfg_attr(not(test), deny(clippy::unwrap_used))]

mod context_ext;
pub mod extension;
mod handler;
pub mod http1;
pub mod runtime;
pub mod shutdown;
pub mod telemetry;

pub use context_ext::ContextExt;
pub use extension::{Event, Extension, ExtensionRunError};
pub use handler::{json, Chunks, Response};
pub use lambda_sansio::context::{Context, HandlerError};
pub use runtime::{
    config_from_env, report_init_error, run, run_responses, run_responses_with, run_with, RunError,
};
pub use shutdown::on_sigterm;
pub use telemetry::TelemetryListener;
