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
mod extension;
mod handler;
pub mod http1;
#[cfg(feature = "http")]
mod http_handler;
mod runtime;
mod shutdown;
mod telemetry;

pub use context_ext::ContextExt;
pub use extension::{Event, Extension};
pub use handler::{json, Chunks, Response};
#[cfg(feature = "http")]
pub use http_handler::{http_handler, http_stream_handler};
/// HTTP events as `http` types (feature `http`): the request context and
/// the other types an HTTP handler names.
#[cfg(feature = "http")]
pub use lambda_sansio::http::{PathParameters, RequestContext, StageVariables};
pub use runtime::{config_from_env, report_init_error, run, run_with, MAX_EVENT};
pub use shutdown::{on_sigterm, GRACEFUL_SHUTDOWN_EXTENSION};
pub use telemetry::{TelemetryListener, IDLE_TIMEOUT, MAX_CONNECTIONS, SANDBOX_HOST};

// What a function or extension author names, without depending on
// `lambda-sansio` just for it.
pub use lambda_sansio::context::{Context, HandlerError};
pub use lambda_sansio::driver::{ExtensionRunError, RunError};
pub use lambda_sansio::extension::{
    EventType, InvokeEvent, ShutdownEvent, ShutdownReason, SubscriptionRefusal, Tracing,
};
/// Lambda's logging controls (feature `tracing`): call
/// `init_default_subscriber()` first thing in `main`.
#[cfg(feature = "tracing")]
pub use lambda_sansio::logging::{init_default_subscriber, LogConfig, LogFormat};
pub use lambda_sansio::runtime::{Mode, RuntimeConfig};
pub use lambda_sansio::telemetry::{
    Buffering, RecordCategory, RecordType, Subscription, SubscriptionApi, TelemetryRecord,
};
pub use lambda_sansio::{ApiAddress, ErrorReport, RetryPolicy};
