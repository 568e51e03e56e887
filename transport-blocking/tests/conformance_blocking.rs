//! The conformance suite against the blocking (std::net) drivers.

#![allow(clippy::unwrap_used)]

#[path = "../../transport-hyper/tests/conformance/mod.rs"]
mod conformance;

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use conformance::{Driver, Handler};
use lambda_sansio::extension::EventType;
use lambda_sansio::runtime::RuntimeConfig;
use lambda_sansio::telemetry::{Subscription, TelemetryRecord};
use lambda_sansio_blocking::{run_with, Event, Extension, TelemetryListener};

struct Blocking;

impl Driver for Blocking {
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
        std::thread::spawn(move || {
            let extension =
                Extension::with_api(&api, name, &[EventType::Invoke, EventType::Shutdown]).unwrap();
            extension
                .with_subscription(subscription)
                .run(|event| {
                    log.lock().unwrap().push(match event {
                        Event::Invoke(invoke) => format!("invoke {}", invoke.request_id.len()),
                        Event::Shutdown(shutdown) => {
                            format!("shutdown {}", shutdown.shutdown_reason.as_str())
                        }
                    });
                    Ok(())
                })
                .map_err(|e| e.to_string())
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
}

conformance::suite!(Blocking);
