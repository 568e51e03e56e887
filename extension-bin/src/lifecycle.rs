//! The extension's lifecycle: subscribe, start the listener, the sidecar
//! and the sink, then hold each INVOKE and the SHUTDOWN on the forwarder's
//! gate (core's [`Forwarder`]), which decides when `next` and exit may go.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lambda_sansio::context::HandlerError;
use lambda_sansio::extension::EventType;
use lambda_sansio::forward::{ForwardRecord, Forwarder, ForwarderEvent};
use lambda_sansio::telemetry::{Buffering, RecordType, Subscription, SubscriptionApi};
use lambda_sansio_blocking::{Event, Extension, TelemetryListener};

use crate::config::Settings;
use crate::Shared;

/// Kept for exiting once the sink is done: the extension is killed at the
/// shutdown deadline.
const SHUTDOWN_MARGIN: Duration = Duration::from_millis(200);
/// The shutdown budget when SHUTDOWN carries no deadline (an external
/// extension gets 2,000 ms).
const DEFAULT_SHUTDOWN_BUDGET: Duration = Duration::from_millis(2_000);

/// Runs until SHUTDOWN (or a fatal error).
pub(crate) fn run(settings: &Settings) -> Result<(), Box<dyn std::error::Error>> {
    let sink = crate::sink::build(settings)?;
    let shared = Arc::new(Shared::new(Forwarder::new(settings.forwarder.clone()), sink));
    let listener = TelemetryListener::bind(settings.telemetry_port)?;
    let buffering = Buffering { max_items: 1_000, max_bytes: 262_144, timeout_ms: 25 };
    let subscription = Subscription::new(
        SubscriptionApi::Telemetry,
        &settings.categories,
        buffering,
        &listener.destination()?,
    )?;
    let from_platform = Arc::clone(&shared);
    // With the stdout sink, `extension` records would be the forwarder's
    // own lines coming back: never forwarded (and never subscribed).
    let to_stdout = settings.sink == crate::config::SinkChoice::Stdout;
    listener.spawn(move |batch| {
        let records = batch
            .iter()
            .filter(|r| r.record_type != RecordType::ExtensionLog || !to_stdout)
            .map(ForwardRecord::from_platform)
            .collect::<Vec<_>>();
        from_platform.receive(records);
    })?;
    if let Some(port) = settings.sidecar_port {
        if let Err(error) = crate::sidecar::spawn(port, Arc::clone(&shared)) {
            crate::say(&format!(
                "could not open the sidecar endpoint on 127.0.0.1:{port} ({error}); \
                 running without it (set LAMBDA_SANSIO_SIDECAR_PORT to another port, or off)"
            ));
        }
    }
    let sender = Arc::clone(&shared);
    std::thread::Builder::new().name("sink".into()).spawn(move || sender.run_sender())?;
    Extension::new(&crate::own_name(), &[EventType::Invoke, EventType::Shutdown])?
        .with_subscription(subscription)
        .run(|event| on_event(event, &shared))?;
    Ok(())
}

fn on_event(event: Event<'_>, shared: &Shared) -> Result<(), HandlerError> {
    match event {
        Event::Invoke(invoke) => {
            let deadline = invoke.deadline_ms.map_or_else(
                || Instant::now() + Duration::from_secs(900),
                |deadline| crate::time::instant_of(deadline.0),
            );
            shared.update(|forwarder, now| forwarder.invoke(&invoke.request_id, deadline, now));
            wait_for_gate(shared);
        }
        Event::Shutdown(shutdown) => {
            let deadline = shutdown.deadline_ms.map_or_else(
                || Instant::now() + DEFAULT_SHUTDOWN_BUDGET,
                |deadline| crate::time::instant_of(deadline.0),
            );
            let give_up_at = deadline.checked_sub(SHUTDOWN_MARGIN).unwrap_or(deadline);
            shared.update(|forwarder, now| forwarder.shutdown(give_up_at, now));
            let undelivered = wait_for_gate(shared);
            let stats = shared.stats();
            crate::say(&format!(
                "shutdown ({}): {} records received, {} forwarded, {} dropped, {} undelivered",
                shutdown.shutdown_reason.as_str(),
                stats.received,
                stats.forwarded,
                stats.dropped,
                undelivered
            ));
        }
        // Lambda will never accept it: fail init, loudly.
        Event::SubscriptionRejected(refusal) if refusal.is_permanent() => {
            crate::say(&format!("{refusal}; stopping, since no record could ever arrive"));
            return Err(HandlerError::new("Extension.SubscriptionRejected", refusal.to_string()));
        }
        Event::SubscriptionRejected(refusal) => {
            crate::say(&format!("warning: {refusal}; forwarding the sidecar's records only"));
            shared.update(|forwarder, _| forwarder.stop_awaiting_platform_records());
        }
    }
    Ok(())
}

/// Waits until the gate opens; returns the undelivered count at exit.
fn wait_for_gate(shared: &Shared) -> u64 {
    match shared.next_event() {
        ForwarderEvent::MayCallNext(_) => 0,
        ForwarderEvent::MayExit { undelivered } => undelivered,
    }
}
