//! Async (tokio + hyper 1) drivers for the `lambda-sansio` machines, and a
//! local Lambda emulator (feature `emulator`).

#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod client;
mod client_io;
mod context_ext;
#[cfg(feature = "emulator")]
pub mod emulator;
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
