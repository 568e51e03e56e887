//! One test per row of the extension machine's status table.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant};

use lambda_sansio::extension::{
    EventType, ExitReason, ExtensionConfig, ExtensionError, ExtensionEvent, ExtensionMachine,
    RegisterRejection, ShutdownReason,
};
use lambda_sansio::telemetry::{Buffering, RecordCategory, Subscription, SubscriptionApi};
use lambda_sansio::{
    ApiAddress, Call, ErrorReport, ExtensionName, RetryPolicy, Token, TransportError, TransportErrorKind,
};
use support::{answer, error_answer, parse_call, ParsedCall, ADDRESS};

const ID: &str = "a3b1c2d4-0000-4000-8000-000000000001";

fn config(events: &[EventType]) -> ExtensionConfig {
    let mut config = ExtensionConfig::new(
        ApiAddress::parse(ADDRESS).unwrap(),
        ExtensionName::new("telemetry-shipper").unwrap(),
        events,
    );
    config.retry = RetryPolicy { max_retries: 1, initial_backoff: Duration::from_millis(5), ..config.retry };
    config
}

/// A machine that hands init over to the host once registered (the rows
/// about init), as `auto_ready: false` does.
fn machine(events: &[EventType]) -> ExtensionMachine {
    ExtensionMachine::new(ExtensionConfig { auto_ready: false, ..config(events) })
}

fn send(machine: &mut ExtensionMachine) -> ParsedCall {
    let out = machine.poll_request().expect("a request");
    assert_eq!(out.token, Token(0));
    assert!(machine.poll_request().is_none(), "one request at a time");
    parse_call(&out.request, "")
}

fn registered(events: &[EventType]) -> ExtensionMachine {
    let mut m = machine(events);
    send(&mut m);
    m.handle_response(Token(0), answer(200, &[("lambda-extension-identifier", ID)], "")).unwrap();
    assert!(matches!(m.poll_event(), Some(ExtensionEvent::Registered(_))));
    m
}

fn ready(events: &[EventType]) -> ExtensionMachine {
    let mut m = registered(events);
    m.ready().unwrap();
    assert_eq!(send(&mut m), ParsedCall::EventNext { extension_id: ID.into() });
    m
}

fn assert_fatal_and_sticky(m: &mut ExtensionMachine, error: &ExtensionError) {
    assert!(error.is_fatal(), "{error:?}");
    assert_eq!(m.poll_event(), Some(ExtensionEvent::Exit(ExitReason::Fatal(error.clone()))));
    assert_eq!(m.poll_event(), None);
    assert!(m.poll_request().is_none());
    assert_eq!(m.ready(), Err(error.clone()));
    assert_eq!(m.event_done(), Err(error.clone()));
    assert_eq!(m.handle_response(Token(0), answer(200, &[], "")), Err(error.clone()));
}

#[test]
fn register_sends_name_events_and_feature_and_reads_the_identifier() {
    let mut config = ExtensionConfig::new(
        ApiAddress::parse(ADDRESS).unwrap(),
        ExtensionName::new("shipper").unwrap(),
        &[EventType::Invoke, EventType::Shutdown],
    );
    config.accept_account_id = true;
    config.auto_ready = false;
    let mut m = ExtensionMachine::new(config);
    let out = m.poll_request().unwrap();
    assert_eq!(out.call, Call::ExtensionRegister);
    assert_eq!(
        parse_call(&out.request, ""),
        ParsedCall::Register {
            name: "shipper".into(),
            events: vec!["INVOKE".into(), "SHUTDOWN".into()],
            account_id: true
        }
    );
    let body = r#"{"functionName":"f","functionVersion":"$LATEST","handler":"h","accountId":"123"}"#;
    m.handle_response(out.token, answer(200, &[("lambda-extension-identifier", ID)], body)).unwrap();
    let Some(ExtensionEvent::Registered(info)) = m.poll_event() else { panic!() };
    assert_eq!(info.account_id.as_deref(), Some("123"));
    assert_eq!(m.extension_id().unwrap().as_str(), ID);
    assert!(m.poll_request().is_none(), "waits for ready or subscribe");
}

#[test]
fn an_internal_extension_registers_for_no_events_and_an_empty_body_is_tolerated() {
    let mut m = machine(&[]);
    assert!(
        matches!(send(&mut m), ParsedCall::Register { events, account_id: false, .. } if events.is_empty())
    );
    m.handle_response(Token(0), answer(200, &[("lambda-extension-identifier", ID)], "")).unwrap();
    assert!(matches!(m.poll_event(), Some(ExtensionEvent::Registered(info)) if info.function_name.is_none()));
}

#[test]
fn register_without_a_usable_identifier_is_fatal() {
    for headers in [vec![], vec![("lambda-extension-identifier", "a b")]] {
        let mut m = machine(&[EventType::Invoke]);
        send(&mut m);
        let error = m.handle_response(Token(0), answer(200, &headers, "{}")).unwrap_err();
        assert!(matches!(error, ExtensionError::BadIdentifier(_)));
        assert_fatal_and_sticky(&mut m, &error);
    }
}

#[test]
fn register_403_is_a_typed_fatal_error() {
    for (error_type, reason) in [
        ("Extension.InvalidExtensionName", RegisterRejection::InvalidExtensionName),
        ("Extension.InvalidEventType", RegisterRejection::InvalidEventType),
        ("Extension.RegistrationClosed", RegisterRejection::RegistrationClosed),
        ("Extension.TooManyExtensions", RegisterRejection::TooManyExtensions),
        ("Extension.InvalidExtensionState", RegisterRejection::InvalidExtensionState),
        ("Extension.Novel", RegisterRejection::Other(Some("Extension.Novel".into()))),
    ] {
        let mut m = machine(&[EventType::Shutdown]);
        send(&mut m);
        let error = m.handle_response(Token(0), error_answer(403, error_type)).unwrap_err();
        let ExtensionError::RegisterRejected { status: 403, reason: ref got, .. } = error else { panic!() };
        assert_eq!(got, &reason);
        assert_fatal_and_sticky(&mut m, &error);
    }
}

#[test]
fn register_500_is_fatal() {
    let mut m = machine(&[EventType::Invoke]);
    send(&mut m);
    let error = m.handle_response(Token(0), error_answer(500, "Boom")).unwrap_err();
    assert!(matches!(error, ExtensionError::Status { call: Call::ExtensionRegister, status: 500, .. }));
    assert_fatal_and_sticky(&mut m, &error);
}

fn subscription() -> Subscription {
    Subscription::new(
        SubscriptionApi::Telemetry,
        &[RecordCategory::Platform, RecordCategory::Function],
        Buffering::default(),
        "http://sandbox.localdomain:4243/t",
    )
    .unwrap()
}

#[test]
fn subscribe_during_init_then_ready() {
    let mut m = registered(&[EventType::Invoke]);
    m.subscribe(subscription()).unwrap();
    let ParsedCall::Subscribe { extension_id, path, body } = send(&mut m) else { panic!() };
    assert_eq!((extension_id.as_str(), path.as_str()), (ID, "/2022-07-01/telemetry"));
    assert_eq!(body["destination"]["URI"], "http://sandbox.localdomain:4243/t");
    m.handle_response(Token(0), answer(200, &[], "OK")).unwrap();
    assert!(matches!(m.poll_event(), Some(ExtensionEvent::Registered(_))), "init goes back to the host");
    m.ready().unwrap();
    assert_eq!(send(&mut m), ParsedCall::EventNext { extension_id: ID.into() });
    assert_eq!(
        m.subscribe(subscription()),
        Err(ExtensionError::NotAllowed { action: "subscribe", state: "waiting for an event" })
    );
}

#[test]
fn subscription_refusals_are_reported_and_init_goes_on() {
    for (response, status) in [
        (error_answer(400, "ValidationError"), 400),
        (error_answer(202, "Telemetry.NotSupported"), 202),
        (error_answer(403, "Logs.NotSupported"), 403),
    ] {
        let mut m = registered(&[EventType::Invoke]);
        m.subscribe(subscription()).unwrap();
        send(&mut m);
        m.handle_response(Token(0), response).unwrap();
        let Some(ExtensionEvent::SubscriptionRejected(refusal)) = m.poll_event() else { panic!() };
        assert_eq!(refusal.status, status);
        assert_eq!(refusal.is_permanent(), status == 400);
        assert!(m.poll_request().is_none(), "init waits for the host's decision");
        m.done(Ok(())).unwrap();
        assert!(matches!(send(&mut m), ParsedCall::EventNext { .. }));
    }
}

#[test]
fn subscribe_500_is_fatal() {
    let mut m = registered(&[EventType::Invoke]);
    m.subscribe(subscription()).unwrap();
    send(&mut m);
    let error = m.handle_response(Token(0), error_answer(500, "x")).unwrap_err();
    assert!(matches!(error, ExtensionError::Status { call: Call::Subscribe, .. }));
    assert_fatal_and_sticky(&mut m, &error);
}

#[test]
fn invoke_events_then_shutdown_then_exit() {
    let mut m = ready(&[EventType::Invoke, EventType::Shutdown]);
    for n in 0..3 {
        let body = format!(
            r#"{{"eventType":"INVOKE","requestId":"r{n}","deadlineMs":10,"invokedFunctionArn":"arn"}}"#
        );
        m.handle_response(Token(0), answer(200, &[], &body)).unwrap();
        let Some(ExtensionEvent::Invoke(invoke)) = m.poll_event() else { panic!() };
        assert_eq!(invoke.request_id, format!("r{n}"));
        assert!(m.poll_request().is_none(), "no next until the event is done");
        m.event_done().unwrap();
        assert_eq!(send(&mut m), ParsedCall::EventNext { extension_id: ID.into() });
    }
    m.handle_response(
        Token(0),
        answer(200, &[], r#"{"eventType":"SHUTDOWN","shutdownReason":"TIMEOUT","deadlineMs":99}"#),
    )
    .unwrap();
    let Some(ExtensionEvent::Shutdown(shutdown)) = m.poll_event() else { panic!() };
    assert_eq!(shutdown.shutdown_reason, ShutdownReason::Timeout);
    assert!(m.poll_request().is_none());
    assert_eq!(
        m.event_done(),
        Err(ExtensionError::NotAllowed { action: "event_done", state: "shutting down" })
    );
    m.exit().unwrap();
    assert_eq!(m.poll_event(), Some(ExtensionEvent::Exit(ExitReason::Shutdown)));
    assert!(m.poll_request().is_none());
    assert_eq!(m.exit(), Err(ExtensionError::Exited));
}

#[test]
fn unknown_events_are_acknowledged_by_the_machine() {
    let mut m = ready(&[EventType::Invoke]);
    m.handle_response(Token(0), answer(200, &[], r#"{"eventType":"RESTORE"}"#)).unwrap();
    assert_eq!(m.poll_event(), None, "nothing a host can act on");
    assert!(matches!(send(&mut m), ParsedCall::EventNext { .. }));
}

#[test]
fn by_default_the_machine_subscribes_and_finishes_init_itself() {
    let config = ExtensionConfig { subscription: Some(subscription()), ..config(&[EventType::Invoke]) };
    let mut m = ExtensionMachine::new(config);
    assert!(matches!(send(&mut m), ParsedCall::Register { .. }));
    let info = r#"{"functionName":"f","accountId":"123"}"#;
    m.handle_response(Token(0), answer(200, &[("lambda-extension-identifier", ID)], info)).unwrap();
    assert_eq!(m.register_info().and_then(|i| i.function_name.as_deref()), Some("f"));
    assert!(matches!(send(&mut m), ParsedCall::Subscribe { .. }), "subscribes without being asked");
    m.handle_response(Token(0), answer(200, &[], "OK")).unwrap();
    assert_eq!(send(&mut m), ParsedCall::EventNext { extension_id: ID.into() }, "then finishes init");
    assert_eq!(m.poll_event(), None, "nothing for the host to do until an event");
}

#[test]
fn done_closes_each_event_with_the_hosts_outcome() {
    // After INVOKE: Ok asks for the next event; Err reports exit/error.
    let invoke = r#"{"eventType":"INVOKE","requestId":"r1"}"#;
    let mut m = ready(&[EventType::Invoke, EventType::Shutdown]);
    m.handle_response(Token(0), answer(200, &[], invoke)).unwrap();
    m.poll_event();
    m.done(Ok(())).unwrap();
    assert!(matches!(send(&mut m), ParsedCall::EventNext { .. }));
    m.handle_response(Token(0), answer(200, &[], invoke)).unwrap();
    m.poll_event();
    m.done(Err(ErrorReport::new("Extension.Broken", "x"))).unwrap();
    assert!(matches!(send(&mut m), ParsedCall::ExtensionExitError { .. }));
    // After SHUTDOWN: Ok exits.
    let mut m = ready(&[EventType::Shutdown]);
    m.handle_response(Token(0), answer(200, &[], r#"{"eventType":"SHUTDOWN","shutdownReason":"spindown"}"#))
        .unwrap();
    m.poll_event();
    m.done(Ok(())).unwrap();
    assert_eq!(m.poll_event(), Some(ExtensionEvent::Exit(ExitReason::Shutdown)));
    // After a refused subscription: Err reports an init error.
    let mut m = registered(&[EventType::Invoke]);
    m.subscribe(subscription()).unwrap();
    send(&mut m);
    m.handle_response(Token(0), error_answer(400, "ValidationError")).unwrap();
    m.poll_event();
    m.done(Err(ErrorReport::new("Extension.NoTelemetry", "needed"))).unwrap();
    assert!(matches!(send(&mut m), ParsedCall::ExtensionInitError { .. }));
    // Nothing to close while waiting for an event.
    let mut m = ready(&[EventType::Invoke]);
    assert!(matches!(m.done(Ok(())), Err(ExtensionError::NotAllowed { action: "done", .. })));
}

#[test]
fn next_403_500_and_malformed_events_are_fatal() {
    for (response, expect_status) in [
        (error_answer(403, "Extension.InvalidExtensionIdentifier"), Some(403)),
        (error_answer(500, "Boom"), Some(500)),
        (answer(202, &[], ""), Some(202)),
        (answer(200, &[], "{not json"), None),
        (answer(200, &[], r#"{"eventType":"SHUTDOWN"}"#), None),
    ] {
        let mut m = ready(&[EventType::Invoke]);
        let error = m.handle_response(Token(0), response).unwrap_err();
        match expect_status {
            Some(status) => assert!(
                matches!(error, ExtensionError::Status { call: Call::ExtensionNext, status: s, .. } if s == status)
            ),
            None => assert!(matches!(error, ExtensionError::MalformedEvent(_))),
        }
        assert_fatal_and_sticky(&mut m, &error);
    }
}

#[test]
fn init_error_is_reported_then_the_extension_exits() {
    let mut m = registered(&[EventType::Invoke]);
    m.init_error(ErrorReport::new("Extension.ConfigMissing", "no config")).unwrap();
    let ParsedCall::ExtensionInitError { extension_id, error_type, report } = send(&mut m) else { panic!() };
    assert_eq!((extension_id.as_str(), error_type.as_str()), (ID, "Extension.ConfigMissing"));
    assert_eq!(report["errorMessage"], "no config");
    m.handle_response(Token(0), answer(202, &[], "")).unwrap();
    assert_eq!(m.poll_event(), Some(ExtensionEvent::Exit(ExitReason::InitErrorReported)));
    assert!(m.poll_request().is_none());
}

#[test]
fn exit_error_after_shutdown_is_reported_then_the_extension_exits() {
    let mut m = ready(&[EventType::Shutdown]);
    m.handle_response(Token(0), answer(200, &[], r#"{"eventType":"SHUTDOWN","shutdownReason":"spindown"}"#))
        .unwrap();
    m.poll_event();
    m.exit_error(ErrorReport::new("", "flush failed")).unwrap();
    let ParsedCall::ExtensionExitError { error_type, .. } = send(&mut m) else { panic!() };
    assert_eq!(error_type, "Extension.Unknown", "the required header is never empty");
    m.handle_response(Token(0), answer(202, &[], "")).unwrap();
    assert_eq!(m.poll_event(), Some(ExtensionEvent::Exit(ExitReason::ExitErrorReported)));
}

#[test]
fn error_report_refused_is_fatal() {
    let mut m = registered(&[EventType::Invoke]);
    m.init_error(ErrorReport::new("Extension.X", "m")).unwrap();
    send(&mut m);
    let error = m.handle_response(Token(0), error_answer(403, "Extension.MissingHeader")).unwrap_err();
    assert!(matches!(error, ExtensionError::Status { call: Call::ExtensionInitError, status: 403, .. }));
    assert_fatal_and_sticky(&mut m, &error);
    // The same for exit/error, after an event.
    let mut m = ready(&[EventType::Invoke]);
    m.handle_response(Token(0), answer(200, &[], r#"{"eventType":"INVOKE","requestId":"r"}"#)).unwrap();
    m.poll_event();
    m.done(Err(ErrorReport::new("Extension.X", "m"))).unwrap();
    send(&mut m);
    let error = m.handle_response(Token(0), error_answer(500, "x")).unwrap_err();
    assert!(matches!(error, ExtensionError::Status { call: Call::ExtensionExitError, status: 500, .. }));
    assert_fatal_and_sticky(&mut m, &error);
}

#[test]
fn transport_errors_back_off_then_give_up() {
    let mut m = ready(&[EventType::Invoke]);
    let reset = TransportError::new(TransportErrorKind::Reset, "reset");
    let t0 = Instant::now();
    m.handle_transport_error(Token(0), reset.clone(), t0).unwrap();
    assert!(m.poll_request().is_none());
    let due = m.poll_timeout().unwrap();
    assert_eq!(due, t0 + Duration::from_millis(5));
    m.handle_timeout(due - Duration::from_millis(1));
    assert!(m.poll_request().is_none(), "an early wake-up changes nothing");
    assert_eq!(m.poll_timeout(), Some(due), "and the deadline stands");
    m.handle_timeout(due);
    assert_eq!(m.poll_timeout(), None);
    assert!(matches!(send(&mut m), ParsedCall::EventNext { .. }));
    let error = m.handle_transport_error(Token(0), reset.clone(), due).unwrap_err();
    assert_eq!(error, ExtensionError::Transport { call: Call::ExtensionNext, attempts: 2, last: reset });
    assert_fatal_and_sticky(&mut m, &error);
}

#[test]
fn misuse_is_a_typed_error_that_changes_nothing() {
    let mut m = machine(&[EventType::Invoke]);
    assert_eq!(m.ready(), Err(ExtensionError::NotAllowed { action: "ready", state: "registering" }));
    assert_eq!(
        m.handle_response(Token(0), answer(200, &[], "")),
        Err(ExtensionError::UnexpectedResponse(Token(0)))
    );
    send(&mut m);
    assert_eq!(
        m.handle_response(Token(3), answer(200, &[], "")),
        Err(ExtensionError::UnexpectedResponse(Token(3)))
    );
    m.handle_timeout(Instant::now());
    assert!(m.poll_request().is_none(), "a spurious wake-up sends nothing twice");
    let reset = || TransportError::new(TransportErrorKind::Reset, "x");
    assert_eq!(
        m.handle_transport_error(Token(1), reset(), Instant::now()),
        Err(ExtensionError::UnexpectedResponse(Token(1))),
        "a failure on a connection the machine does not use"
    );
    assert_eq!(m.exit(), Err(ExtensionError::NotAllowed { action: "exit", state: "registering" }));
    m.handle_response(Token(0), answer(200, &[("lambda-extension-identifier", ID)], "")).unwrap();
    assert_eq!(m.event_done(), Err(ExtensionError::NotAllowed { action: "event_done", state: "registered" }));
    assert_eq!(
        m.exit_error(ErrorReport::default()),
        Err(ExtensionError::NotAllowed { action: "exit_error", state: "registered" })
    );
    assert!(m.exit_reason().is_none());
    m.ready().unwrap();
    assert!(matches!(send(&mut m), ParsedCall::EventNext { .. }));
}

#[test]
fn managed_instances_register_without_invoke_and_tell_the_host() {
    let name = ExtensionName::new("telemetry-shipper").unwrap();
    let both = [EventType::Invoke, EventType::Shutdown];
    let config = ExtensionConfig::from_env_values(
        Some(ADDRESS),
        Some("lambda-managed-instances"),
        name.clone(),
        &both,
    )
    .unwrap();
    assert!(config.managed_instances);
    let mut m = ExtensionMachine::new(config);
    let Some(ExtensionEvent::EventsUnavailable(unavailable)) = m.poll_event() else { panic!() };
    assert_eq!(unavailable.0, vec![EventType::Invoke]);
    assert!(unavailable.to_string().contains("INVOKE events are not available"), "{unavailable}");
    let ParsedCall::Register { events, .. } = send(&mut m) else { panic!() };
    assert_eq!(events, vec!["SHUTDOWN".to_owned()], "INVOKE would be refused 403 Extension.InvalidEventType");
    assert_eq!(m.registered_events(), &[EventType::Shutdown]);
    // Outside Managed Instances nothing is dropped or said.
    for initialization in [None, Some("on-demand"), Some("provisioned-concurrency")] {
        let config =
            ExtensionConfig::from_env_values(Some(ADDRESS), initialization, name.clone(), &both).unwrap();
        let mut m = ExtensionMachine::new(config);
        assert_eq!(m.poll_event(), None);
        let ParsedCall::Register { events, .. } = send(&mut m) else { panic!() };
        assert_eq!(events, vec!["INVOKE".to_owned(), "SHUTDOWN".to_owned()], "{initialization:?}");
    }
    assert!(ExtensionConfig::from_env_values(None, None, name, &both).is_err());
}

#[test]
fn managed_instances_subscribe_with_the_schema_they_require() {
    let subscription = Subscription::new(
        SubscriptionApi::Telemetry,
        &[RecordCategory::Platform],
        Buffering::default(),
        "http://sandbox.localdomain:4243/t",
    )
    .unwrap();
    for (initialization, schema) in
        [(Some("lambda-managed-instances"), "2025-01-29"), (None, Subscription::TELEMETRY_SCHEMA)]
    {
        let config = ExtensionConfig::from_env_values(
            Some(ADDRESS),
            initialization,
            ExtensionName::new("x").unwrap(),
            &[EventType::Shutdown],
        )
        .unwrap()
        .with_subscription(subscription.clone());
        let mut m = ExtensionMachine::new(config);
        send(&mut m);
        m.handle_response(Token(0), answer(200, &[("lambda-extension-identifier", ID)], "")).unwrap();
        let out = m.poll_request().unwrap();
        let body: serde_json::Value = serde_json::from_slice(out.request.body()).unwrap();
        assert_eq!(body["schemaVersion"], schema, "{initialization:?}");
    }
}
