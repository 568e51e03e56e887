//! Async (tokio + hyper 1) drivers for the `lambda-sansio` machines. The
//! local Lambda emulator built on it is the `lambda-sansio-emulator` crate.

#![cfg_attr(not(test), deny(clippy::unwrap_used))]

mod client;
#[cfg(test)]
mod client_bounds;
mod context_ext;
mod extension;
#[cfg(feature = "http")]
mod http_handler;
mod runtime;
#[cfg(feature = "tower")]
mod service;
mod shutdown;
mod telemetry;

pub use client::{Chunks, MAX_EVENT};
pub use context_ext::ContextExt;
pub use extension::{Event, Extension};
#[cfg(feature = "http")]
pub use http_handler::{http_handler, http_stream_handler};
/// HTTP events as `http` types (feature `http`): the request context and
/// the other types an HTTP handler names.
#[cfg(feature = "http")]
pub use lambda_sansio::http::{PathParameters, RequestContext, StageVariables};
pub use runtime::{config_from_env, json, report_init_error, run, run_with, Response};
#[cfg(feature = "tower")]
pub use service::{run_service, run_service_with, LambdaRequest};
pub use shutdown::{on_sigterm, GRACEFUL_SHUTDOWN_EXTENSION};
pub use telemetry::{TelemetryListener, SANDBOX_HOST};

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
