//! The conformance suite against the blocking (std::net) drivers.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use bytes::Bytes;
use lambda_sansio::context::HandlerError;
use lambda_sansio::extension::EventType;
use lambda_sansio::runtime::RuntimeConfig;
use lambda_sansio::telemetry::{Subscription, TelemetryRecord};
use lambda_sansio_blocking::{json, run_with, Event, Extension, Response, TelemetryListener};
use lambda_sansio_test_support::conformance::{self, Driver, Handler};

struct Blocking;

/// Runs an extension logging its events (see [`Driver::start_extension`]).
fn extension(
    api: String,
    name: &'static str,
    subscription: Subscription,
    log: Arc<Mutex<Vec<String>>>,
    managed_instances: bool,
) -> JoinHandle<Result<(), String>> {
    std::thread::spawn(move || {
        Extension::with_api(&api, name, &[EventType::Invoke, EventType::Shutdown])
            .unwrap()
            .managed_instances(managed_instances)
            .with_subscription(subscription)
            .run(|event| {
                log.lock().unwrap().push(match event {
                    Event::Invoke(invoke) => format!("invoke {}", invoke.request_id.len()),
                    Event::Shutdown(shutdown) => format!("shutdown {}", shutdown.shutdown_reason.as_str()),
                    Event::SubscriptionRejected(refusal) => {
                        format!("subscription refused {}", refusal.status)
                    }
                });
                Ok(())
            })
            .map_err(|e| e.to_string())
    })
}

impl Driver for Blocking {
    const EXAMPLES: &'static str = "blocking";

    fn start_runtime(config: RuntimeConfig, handler: Handler) -> JoinHandle<Result<(), String>> {
        std::thread::spawn(move || {
            run_with(config, move |payload, context| handler(payload, context)).map_err(|e| e.to_string())
        })
    }

    fn start_extension(
        api: String,
        name: &'static str,
        subscription: Subscription,
        log: Arc<Mutex<Vec<String>>>,
    ) -> JoinHandle<Result<(), String>> {
        extension(api, name, subscription, log, false)
    }

    fn start_managed_extension(
        api: String,
        name: &'static str,
        subscription: Subscription,
        log: Arc<Mutex<Vec<String>>>,
    ) -> JoinHandle<Result<(), String>> {
        extension(api, name, subscription, log, true)
    }

    fn start_json_runtime(config: RuntimeConfig) -> JoinHandle<Result<(), String>> {
        std::thread::spawn(move || {
            let echo = json(|value: serde_json::Value, _: &lambda_sansio::context::Context| {
                Ok::<_, HandlerError>(value)
            });
            run_with(config, echo).map_err(|e| e.to_string())
        })
    }

    fn listen_telemetry() -> (String, Arc<Mutex<Vec<TelemetryRecord>>>) {
        let listener = TelemetryListener::bind(0).unwrap();
        let destination = listener.destination().unwrap();
        let records = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&records);
        listener.spawn(move |batch| sink.lock().unwrap().extend(batch)).unwrap();
        (destination, records)
    }

    fn start_streaming_runtime(config: RuntimeConfig) -> JoinHandle<Result<(), String>> {
        std::thread::spawn(move || {
            run_with(config, |payload, _| {
                let fail = &payload[..] == b"\"fail\"";
                let mut chunks: Vec<Result<Bytes, HandlerError>> =
                    conformance::STREAM.iter().map(|c| Ok(Bytes::from_static(c.as_bytes()))).collect();
                if fail {
                    chunks.truncate(2);
                    chunks.push(Err(HandlerError::new("Function.StreamBroke", "mid-stream")));
                }
                let content_type = Some(http::HeaderValue::from_static("text/plain"));
                Ok(Response::Streamed { content_type, chunks: Box::new(chunks.into_iter()) })
            })
            .map_err(|e| e.to_string())
        })
    }
}

lambda_sansio_test_support::suite!(Blocking);
