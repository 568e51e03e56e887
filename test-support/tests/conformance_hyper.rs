//! The conformance suite against the async (hyper + tokio) drivers.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use bytes::Bytes;
use lambda_sansio::context::HandlerError;
use lambda_sansio::extension::EventType;
use lambda_sansio::runtime::RuntimeConfig;
use lambda_sansio::telemetry::{Subscription, TelemetryRecord};
use lambda_sansio_hyper::{json, run_with, Event, Extension, Response, TelemetryListener};
use lambda_sansio_test_support::conformance::{self, Driver, Handler};

struct Hyper;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// Runs an extension logging its events (see [`Driver::start_extension`]).
fn extension(
    api: String,
    name: &'static str,
    subscription: Subscription,
    log: Arc<Mutex<Vec<String>>>,
    managed_instances: bool,
) -> JoinHandle<Result<(), String>> {
    std::thread::spawn(move || {
        let extension = Extension::with_api(&api, name, &[EventType::Invoke, EventType::Shutdown])
            .unwrap()
            .managed_instances(managed_instances);
        let run = extension.with_subscription(subscription).run(|event| {
            log.lock().unwrap().push(match event {
                Event::Invoke(invoke) => format!("invoke {}", invoke.request_id.len()),
                Event::Shutdown(shutdown) => format!("shutdown {}", shutdown.shutdown_reason.as_str()),
                Event::SubscriptionRejected(refusal) => format!("subscription refused {}", refusal.status),
            });
            async { Ok(()) }
        });
        runtime().block_on(run).map_err(|e| e.to_string())
    })
}

impl Driver for Hyper {
    const EXAMPLES: &'static str = "hyper";

    fn start_runtime(config: RuntimeConfig, handler: Handler) -> JoinHandle<Result<(), String>> {
        std::thread::spawn(move || {
            let adapted = move |payload, context| {
                let handler = Arc::clone(&handler);
                async move {
                    // Scenario handlers block; keep them off the async workers.
                    match tokio::task::spawn_blocking(move || handler(payload, &context)).await {
                        Ok(result) => result,
                        Err(join) => std::panic::resume_unwind(join.into_panic()),
                    }
                }
            };
            runtime().block_on(run_with(config, adapted)).map_err(|e| e.to_string())
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
            let echo = json(|value: serde_json::Value, _| async move { Ok::<_, HandlerError>(value) });
            runtime().block_on(run_with(config, echo)).map_err(|e| e.to_string())
        })
    }

    fn listen_telemetry() -> (String, Arc<Mutex<Vec<TelemetryRecord>>>) {
        let records = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&records);
        let (send, receive) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            runtime().block_on(async move {
                let listener = TelemetryListener::bind(0).await.unwrap();
                send.send(listener.destination().unwrap()).unwrap();
                listener.spawn(move |batch| sink.lock().unwrap().extend(batch));
                // Keep the runtime (and so the listener) alive.
                std::future::pending::<()>().await;
            });
        });
        (receive.recv().unwrap(), records)
    }

    fn start_streaming_runtime(config: RuntimeConfig) -> JoinHandle<Result<(), String>> {
        std::thread::spawn(move || {
            let handler = |payload: Bytes, _| async move {
                let fail = &payload[..] == b"\"fail\"";
                let (send, chunks) = tokio::sync::mpsc::channel(4);
                tokio::spawn(async move {
                    let count = if fail { 2 } else { conformance::STREAM.len() };
                    for chunk in &conformance::STREAM[..count] {
                        let _ = send.send(Ok(Bytes::from_static(chunk.as_bytes()))).await;
                    }
                    if fail {
                        let _ = send.send(Err(HandlerError::new("Function.StreamBroke", "mid-stream"))).await;
                    }
                });
                let content_type = Some(http::HeaderValue::from_static("text/plain"));
                Ok::<_, HandlerError>(Response::Streamed { content_type, chunks })
            };
            runtime().block_on(run_with(config, handler)).map_err(|e| e.to_string())
        })
    }
}

lambda_sansio_test_support::suite!(Hyper);
