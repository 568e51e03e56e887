//! The decisions every extension host makes the same way, so that drivers
//! only move bytes and call the user: what follows registration, which
//! events reach the user, how the user's outcome closes an event.

use super::error::{ExitReason, ExtensionError};
use super::event::{EventType, InvokeEvent, ShutdownEvent};
use super::machine::{ExtensionEvent, ExtensionMachine};
use crate::report::{ErrorReport, ServerError};
use crate::telemetry::Subscription;

/// An event for the user's code.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HostEvent {
    /// An invocation started.
    Invoke(InvokeEvent),
    /// The environment shuts down; the last event.
    Shutdown(ShutdownEvent),
    /// The Telemetry or Logs API subscription was refused. Comes during
    /// init, before any INVOKE: an `Ok` outcome finishes init without the
    /// subscription, an `Err` reports an init error and ends the extension.
    SubscriptionRejected(SubscriptionRefusal),
}

/// A refused subscription.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SubscriptionRefusal {
    /// The HTTP status (`2xx` when the platform said the API is not supported).
    pub status: u16,
    /// The decoded error body.
    pub server: ServerError,
}

impl SubscriptionRefusal {
    /// Whether Lambda will never accept this subscription (`400
    /// ValidationError`), as opposed to an emulator without the API
    /// (`Telemetry.NotSupported`) or another refusal.
    pub fn is_permanent(&self) -> bool {
        self.status == 400 && self.server.is("ValidationError")
    }
}

impl std::fmt::Display for SubscriptionRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the telemetry subscription was refused with status {} ({})", self.status, self.server)
    }
}

/// Something the driver tells its user (one line on stderr) and goes on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Notice {
    /// These events are not offered in this environment; the extension
    /// registered without them.
    EventsUnavailable(Vec<EventType>),
}

impl std::fmt::Display for Notice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::EventsUnavailable(events) => {
                let names: Vec<&str> = events.iter().map(|e| e.as_str()).collect();
                write!(
                    f,
                    "{} events are not available to extensions under Lambda Managed Instances; \
                     registered without them",
                    names.join(" and ")
                )
            }
        }
    }
}

/// What the driver does next.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Next {
    /// The machine was advanced; keep driving it.
    Continue,
    /// Tell the user (one line), then keep driving the machine.
    Tell(Notice),
    /// Hand the event to the user, then call [`complete`] with the outcome.
    Deliver(HostEvent),
    /// The machine stopped.
    Exit(ExitReason),
}

/// Reacts to `event`: after registration, subscribes with `subscription`
/// (taken) or finishes init; after an accepted subscription, finishes init;
/// acknowledges events this version does not know; hands INVOKE, SHUTDOWN
/// and a refused subscription to the user, who decides whether the
/// extension can go on without it.
pub fn advance(
    machine: &mut ExtensionMachine,
    event: ExtensionEvent,
    subscription: &mut Option<Subscription>,
) -> Result<Next, ExtensionError> {
    match event {
        ExtensionEvent::Registered(_) => match subscription.take() {
            Some(subscription) => machine.subscribe(subscription),
            None => machine.ready(),
        }
        .map(|()| Next::Continue),
        ExtensionEvent::Subscribed => machine.ready().map(|()| Next::Continue),
        ExtensionEvent::SubscriptionRejected { status, server } => {
            Ok(Next::Deliver(HostEvent::SubscriptionRejected(SubscriptionRefusal { status, server })))
        }
        ExtensionEvent::EventsUnavailable { events } => Ok(Next::Tell(Notice::EventsUnavailable(events))),
        ExtensionEvent::Unknown { .. } => machine.event_done().map(|()| Next::Continue),
        ExtensionEvent::Invoke(invoke) => Ok(Next::Deliver(HostEvent::Invoke(invoke))),
        ExtensionEvent::Shutdown(shutdown) => Ok(Next::Deliver(HostEvent::Shutdown(shutdown))),
        ExtensionEvent::Exit(reason) => Ok(Next::Exit(reason)),
    }
}

/// Closes a delivered event with the user's outcome: an error is reported
/// with exit/error (and the extension then exits); success asks for the
/// next event, or exits after SHUTDOWN.
pub fn complete(
    machine: &mut ExtensionMachine,
    event: &HostEvent,
    outcome: Result<(), ErrorReport>,
) -> Result<(), ExtensionError> {
    match (outcome, event) {
        (Err(report), HostEvent::SubscriptionRejected(_)) => machine.init_error(report),
        (Ok(()), HostEvent::SubscriptionRejected(_)) => machine.ready(),
        (Err(report), _) => machine.exit_error(report),
        (Ok(()), HostEvent::Invoke(_)) => machine.event_done(),
        (Ok(()), HostEvent::Shutdown(_)) => machine.exit(),
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::extension::{EventType, ExtensionConfig, ShutdownReason};
    use crate::telemetry::{Buffering, RecordCategory, SubscriptionApi};
    use crate::{ApiAddress, Call, ExtensionName};

    fn answer(status: u16, headers: &[(&str, &str)], body: &'static str) -> http::Response<Bytes> {
        let mut builder = http::Response::builder().status(status);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(Bytes::from_static(body.as_bytes())).unwrap()
    }

    fn registered() -> (ExtensionMachine, ExtensionEvent) {
        let config = ExtensionConfig::new(
            ApiAddress::parse("127.0.0.1:1").unwrap(),
            ExtensionName::new("x").unwrap(),
            &[EventType::Invoke, EventType::Shutdown],
        );
        let mut machine = ExtensionMachine::new(config);
        let out = machine.poll_request().unwrap();
        machine
            .handle_response(out.token, answer(200, &[("lambda-extension-identifier", "id")], ""))
            .unwrap();
        let event = machine.poll_event().unwrap();
        (machine, event)
    }

    #[test]
    fn registration_leads_to_subscribe_then_ready() {
        let (mut machine, event) = registered();
        let subscription = Subscription::new(
            SubscriptionApi::Telemetry,
            &[RecordCategory::Platform],
            Buffering::default(),
            "http://h:1/",
        )
        .unwrap();
        let mut pending = Some(subscription);
        assert_eq!(advance(&mut machine, event, &mut pending), Ok(Next::Continue));
        assert!(pending.is_none());
        let out = machine.poll_request().unwrap();
        assert_eq!(out.call, Call::Subscribe);
        machine.handle_response(out.token, answer(400, &[], r#"{"errorType":"ValidationError"}"#)).unwrap();
        let refused = machine.poll_event().unwrap();
        let Ok(Next::Deliver(refusal)) = advance(&mut machine, refused, &mut pending) else {
            panic!("a refusal reaches the user")
        };
        let HostEvent::SubscriptionRejected(details) = &refusal else { panic!("{refusal:?}") };
        assert!(details.is_permanent());
        assert!(machine.poll_request().is_none(), "init waits for the user's decision");
        complete(&mut machine, &refusal, Ok(())).unwrap();
        assert_eq!(machine.poll_request().unwrap().call, Call::ExtensionNext, "going on without it");
    }

    #[test]
    fn a_user_who_needs_the_subscription_reports_an_init_error() {
        let (mut machine, event) = registered();
        let subscription = Subscription::new(
            SubscriptionApi::Telemetry,
            &[RecordCategory::Platform],
            Buffering::default(),
            "http://h:1/",
        )
        .unwrap();
        advance(&mut machine, event, &mut Some(subscription)).unwrap();
        let out = machine.poll_request().unwrap();
        let not_supported = r#"{"errorType":"Telemetry.NotSupported"}"#;
        machine.handle_response(out.token, answer(202, &[], not_supported)).unwrap();
        let refused = machine.poll_event().unwrap();
        let Ok(Next::Deliver(refusal)) = advance(&mut machine, refused, &mut None) else { panic!() };
        let HostEvent::SubscriptionRejected(details) = &refusal else { panic!("{refusal:?}") };
        assert!(!details.is_permanent(), "an emulator without the API is not Lambda refusing it");
        complete(&mut machine, &refusal, Err(ErrorReport::new("Extension.NoTelemetry", "needed"))).unwrap();
        assert_eq!(machine.poll_request().unwrap().call, Call::ExtensionInitError);
    }

    #[test]
    fn invokes_and_shutdown_reach_the_user_and_their_outcome_closes_them() {
        let (mut machine, event) = registered();
        assert_eq!(advance(&mut machine, event, &mut None), Ok(Next::Continue));
        let next = machine.poll_request().unwrap();
        machine.handle_response(next.token, answer(200, &[], r#"{"eventType":"FUTURE"}"#)).unwrap();
        let unknown = machine.poll_event().unwrap();
        assert_eq!(
            advance(&mut machine, unknown, &mut None),
            Ok(Next::Continue),
            "unknown events are acknowledged"
        );
        let next = machine.poll_request().unwrap();
        machine
            .handle_response(next.token, answer(200, &[], r#"{"eventType":"INVOKE","requestId":"r"}"#))
            .unwrap();
        let event = machine_event(&mut machine);
        let Ok(Next::Deliver(invoke)) = advance(&mut machine, event, &mut None) else { panic!() };
        assert!(matches!(invoke, HostEvent::Invoke(_)));
        complete(&mut machine, &invoke, Ok(())).unwrap();
        let next = machine.poll_request().unwrap();
        let body = r#"{"eventType":"SHUTDOWN","shutdownReason":"spindown"}"#;
        machine.handle_response(next.token, answer(200, &[], body)).unwrap();
        let event = machine_event(&mut machine);
        let Ok(Next::Deliver(shutdown)) = advance(&mut machine, event, &mut None) else { panic!() };
        assert!(matches!(&shutdown, HostEvent::Shutdown(s) if s.shutdown_reason == ShutdownReason::Spindown));
        complete(&mut machine, &shutdown, Err(ErrorReport::new("Extension.FlushFailed", "x"))).unwrap();
        assert_eq!(machine.poll_request().unwrap().call, Call::ExtensionExitError, "a failure is reported");
    }

    fn machine_event(machine: &mut ExtensionMachine) -> ExtensionEvent {
        machine.poll_event().unwrap()
    }
}
