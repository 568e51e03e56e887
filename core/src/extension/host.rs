//! The decisions every extension host makes the same way, so that drivers
//! only move bytes and call the user: what follows registration, which
//! events reach the user, how the user's outcome closes an event.

use super::error::{ExitReason, ExtensionError};
use super::event::{InvokeEvent, ShutdownEvent};
use super::machine::{ExtensionEvent, ExtensionMachine};
use crate::report::ErrorReport;
use crate::telemetry::Subscription;

/// An event for the user's code.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HostEvent {
    /// An invocation started.
    Invoke(InvokeEvent),
    /// The environment shuts down; the last event.
    Shutdown(ShutdownEvent),
}

/// What the driver does next.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Next {
    /// The machine was advanced; keep driving it.
    Continue,
    /// Hand the event to the user, then call [`complete`] with the outcome.
    Deliver(HostEvent),
    /// The machine stopped.
    Exit(ExitReason),
}

/// Reacts to `event`: after registration, subscribes with `subscription`
/// (taken) or finishes init; after a subscription answer (accepted or not),
/// finishes init; acknowledges events this version does not know; hands
/// INVOKE and SHUTDOWN to the user. A refused subscription is not fatal.
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
        ExtensionEvent::Subscribed | ExtensionEvent::SubscriptionRejected { .. } => {
            machine.ready().map(|()| Next::Continue)
        }
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
        assert_eq!(
            advance(&mut machine, refused, &mut pending),
            Ok(Next::Continue),
            "a refusal is not fatal"
        );
        assert_eq!(machine.poll_request().unwrap().call, Call::ExtensionNext);
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
