//! The conformance suite against the async (hyper + tokio) drivers.

#![allow(clippy::unwrap_used)]

mod conformance;

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use conformance::{Driver, Handler};
use lambda_sansio::extension::EventType;
use lambda_sansio::runtime::RuntimeConfig;
use lambda_sansio::telemetry::{Subscription, TelemetryRecord};
use lambda_sansio_hyper::{run_with, Event, Extension, TelemetryListener};

struct Hyper;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

impl Driver for Hyper {
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
        std::thread::spawn(move || {
            let extension =
                Extension::with_api(&api, name, &[EventType::Invoke, EventType::Shutdown]).unwrap();
            let run = extension.with_subscription(subscription).run(|event| {
                log.lock().unwrap().push(match event {
                    Event::Invoke(invoke) => format!("invoke {}", invoke.request_id.len()),
                    Event::Shutdown(shutdown) => format!("shutdown {}", shutdown.shutdown_reason.as_str()),
                });
                async { Ok(()) }
            });
            runtime().block_on(run).map_err(|e| e.to_string())
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
                let mut batches = listener.spawn();
                while let Some(batch) = batches.recv().await {
                    sink.lock().unwrap().extend(batch);
                }
            });
        });
        (receive.recv().unwrap(), records)
    }
}

conformance::suite!(Hyper);
