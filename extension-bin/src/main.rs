//! `lambda-sansio-extension`: an external extension for a layer's
//! `extensions/` folder. It subscribes to the Telemetry API and writes one
//! line per invocation report (request id, status, duration) to its
//! standard output, which Lambda sends to the function's logs.
//!
//! `LAMBDA_SANSIO_TELEMETRY_PORT` chooses the listener's port (default: any
//! free one).

#![allow(clippy::print_stdout)]

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use lambda_sansio::context::HandlerError;
use lambda_sansio::extension::EventType;
use lambda_sansio::telemetry::{
    Buffering, RecordCategory, RecordType, Subscription, SubscriptionApi, TelemetryRecord,
};
use lambda_sansio_blocking::{Event, Extension, TelemetryListener};

const NAME: &str = "lambda-sansio-extension";

fn main() -> ExitCode {
    match serve() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{NAME}: {error}");
            ExitCode::FAILURE
        }
    }
}

fn serve() -> Result<(), Box<dyn std::error::Error>> {
    let name = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| NAME.to_owned());
    let port = std::env::var("LAMBDA_SANSIO_TELEMETRY_PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(0);
    let listener = TelemetryListener::bind(port)?;
    let buffering = Buffering { max_items: 1_000, max_bytes: 262_144, timeout_ms: 25 };
    let subscription = Subscription::new(
        SubscriptionApi::Telemetry,
        &[RecordCategory::Platform],
        buffering,
        &listener.destination()?,
    )?;
    let reports = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&reports);
    listener.spawn(move |batch| {
        for record in batch {
            if record.record_type == RecordType::Report {
                counted.fetch_add(1, Ordering::Relaxed);
                println!("{NAME}: {}", describe(&record));
            }
        }
    })?;
    let mut invokes = 0u64;
    Extension::new(&name, &[EventType::Invoke, EventType::Shutdown])?.with_subscription(subscription).run(
        |event| {
            match event {
                Event::Invoke(_) => invokes += 1,
                Event::Shutdown(shutdown) => println!(
                    "{NAME}: shutdown ({}), {invokes} invocations, {} reports",
                    shutdown.shutdown_reason.as_str(),
                    reports.load(Ordering::Relaxed)
                ),
                // Lambda will never accept it: fail init, loudly.
                Event::SubscriptionRejected(refusal) if refusal.is_permanent() => {
                    eprintln!("{NAME}: {refusal}; stopping, since no report could ever arrive");
                    return Err(HandlerError::new("Extension.SubscriptionRejected", refusal.to_string()));
                }
                Event::SubscriptionRejected(refusal) => {
                    eprintln!("{NAME}: warning: {refusal}; running without invocation reports");
                }
            }
            Ok(())
        },
    )?;
    Ok(())
}

fn describe(record: &TelemetryRecord) -> String {
    let field = |name: &str| record.record.get(name).cloned().unwrap_or_default();
    let duration = record.record.pointer("/metrics/durationMs").and_then(|d| d.as_f64()).unwrap_or(0.0);
    format!(
        "request {} {} in {duration:.2} ms",
        field("requestId").as_str().unwrap_or("?"),
        field("status").as_str().unwrap_or("?")
    )
}
