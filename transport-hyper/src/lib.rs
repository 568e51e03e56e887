//! Async (tokio + hyper 1) drivers for the `lambda-sansio` machines. The
//! local Lambda emulator built on it is the `lambda-sansio-emulator` crate.

#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod client;
mod client_io;
mod context_ext;
pub mod extension;
pub mod oneshot;
pub mod runtime;
#[cfg(feature = "tower")]
pub mod service;
pub mod shutdown;
pub mod telemetry;

pub use client::Chunks;
pub use context_ext::ContextExt;
pub use extension::{Event, Extension, ExtensionRunError};
pub use lambda_sansio::context::{Context, HandlerError};
pub use runtime::{
    config_from_env, json, report_init_error, run, run_responses, run_responses_with, run_with, Response,
    RunError,
};
pub use shutdown::on_sigterm;
pub use telemetry::TelemetryListener;
