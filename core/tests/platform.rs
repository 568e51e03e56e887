//! The platform machine's answers, call by call.

#![allow(clippy::unwrap_used)]

mod platform_support;

use std::num::NonZeroU16;

use bytes::Bytes;
use lambda_sansio::extension::{requests as ext, EventType, ShutdownReason};
use lambda_sansio::platform::{ConnId, InitFailure, Outcome, PlatformConfig, PlatformEvent, PlatformMachine};
use lambda_sansio::runtime::{requests as rt, Mode};
use lambda_sansio::telemetry::{Buffering, RecordCategory, Subscription, SubscriptionApi};
use lambda_sansio::{DeadlineMs, ErrorReport, ExtensionId, ExtensionName, InvocationId, RequestId};
use platform_support::*;

#[test]
fn register_answers_identifier_and_function_info() {
    let mut p = platform(Mode::Classic);
    let answer = register(&mut p, "ext-a", &[EventType::Invoke, EventType::Shutdown]);
    assert_eq!(answer.status(), 200);
    let body: serde_json::Value = serde_json::from_slice(answer.body()).unwrap();
    assert_eq!(body["functionName"], "fn");
    assert_eq!(body["accountId"], "123456789012");
    let id = ext_id(&answer);
    assert!(
        matches!(&events(&mut p)[..], [PlatformEvent::ExtensionRegistered { id: got, .. }] if got == &id)
    );
}

#[test]
fn register_refusals_have_the_service_error_types() {
    let mut p = platform(Mode::Classic);
    assert_eq!(register(&mut p, "ext-a", &[EventType::Shutdown]).status(), 200);
    let duplicate = register(&mut p, "ext-a", &[]);
    assert_eq!(
        (duplicate.status().as_u16(), error_type(&duplicate).as_str()),
        (403, "Extension.InvalidExtensionState")
    );
    let internal_shutdown = register(&mut p, "in-process", &[EventType::Shutdown]);
    assert_eq!(error_type(&internal_shutdown), "Extension.InvalidEventType");
    assert_eq!(register(&mut p, "in-process", &[]).status(), 200, "internal, no events");
    let mut body = ext::register(&addr(), &ExtensionName::new("x").unwrap(), &[], false).unwrap();
    *body.body_mut() = Bytes::from_static(br#"{"events":["RESTORE"]}"#);
    assert_eq!(error_type(&call(&mut p, 1, body).unwrap()), "Extension.InvalidEventType");
    let mut nameless = ext::register(&addr(), &ExtensionName::new("x").unwrap(), &[], false).unwrap();
    nameless.headers_mut().remove("lambda-extension-name");
    assert_eq!(error_type(&call(&mut p, 1, nameless).unwrap()), "Extension.InvalidExtensionName");

    let mut full = PlatformMachine::new(PlatformConfig { max_extensions: 1, ..PlatformConfig::new("fn") });
    assert_eq!(register(&mut full, "one", &[]).status(), 200);
    assert_eq!(error_type(&register(&mut full, "two", &[])), "Extension.TooManyExtensions");

    let mut mi = platform(Mode::Concurrent { max: NonZeroU16::new(2).unwrap() });
    assert_eq!(error_type(&register(&mut mi, "ext-a", &[EventType::Invoke])), "Extension.InvalidEventType");
    assert_eq!(register(&mut mi, "ext-a", &[EventType::Shutdown]).status(), 200);
}

#[test]
fn registration_closes_when_the_runtime_polls() {
    let mut p = platform(Mode::Classic);
    assert!(call(&mut p, 1, rt::next(&addr()).unwrap()).is_none(), "next is parked");
    assert_eq!(error_type(&register(&mut p, "ext-b", &[])), "Extension.RegistrationClosed");
}

#[test]
fn unknown_and_missing_identifiers_are_refused() {
    let mut p = platform(Mode::Classic);
    let unknown = ExtensionId::new("nope").unwrap();
    let answer = call(&mut p, 1, ext::next(&addr(), &unknown).unwrap()).unwrap();
    assert_eq!(
        (answer.status().as_u16(), error_type(&answer).as_str()),
        (403, "Extension.UnknownExtensionIdentifier")
    );
    let mut missing = ext::next(&addr(), &unknown).unwrap();
    missing.headers_mut().remove("lambda-extension-identifier");
    assert_eq!(error_type(&call(&mut p, 1, missing).unwrap()), "Extension.MissingExtensionIdentifier");
    let mut report = ext::init_error(&addr(), &unknown, &ErrorReport::new("E", "m")).unwrap();
    report.headers_mut().remove("lambda-extension-function-error-type");
    assert_eq!(error_type(&call(&mut p, 1, report).unwrap()), "Extension.UnknownExtensionIdentifier");
}

#[test]
fn init_completes_only_when_runtime_and_extensions_polled_then_invocations_flow() {
    let mut p = platform(Mode::Classic);
    let id = ext_id(&register(&mut p, "ext-a", &[EventType::Invoke, EventType::Shutdown]));
    p.invoke(invocation("r1", Some("n1"))).unwrap();
    assert!(call(&mut p, 1, rt::next(&addr()).unwrap()).is_none());
    assert!(!p.is_initialized(), "the extension has not polled");
    p.handle_request(ConnId(2), &ext::next(&addr(), &id).unwrap());
    assert!(p.is_initialized());
    let delivered: Vec<_> = std::iter::from_fn(|| p.poll_response()).collect();
    let runtime = &delivered.iter().find(|(c, _)| *c == ConnId(1)).unwrap().1;
    assert_eq!(runtime.headers()["lambda-runtime-aws-request-id"], "r1");
    assert_eq!(runtime.headers()["lambda-runtime-invocation-id"], "n1");
    assert_eq!(runtime.headers()["lambda-runtime-deadline-ms"], "99");
    let extension = &delivered.iter().find(|(c, _)| *c == ConnId(2)).unwrap().1;
    let event: serde_json::Value = serde_json::from_slice(extension.body()).unwrap();
    assert_eq!((event["eventType"].as_str(), event["requestId"].as_str()), (Some("INVOKE"), Some("r1")));
    assert_eq!(event["tracing"]["value"], "Root=1");
    let seen = events(&mut p);
    assert!(seen.contains(&PlatformEvent::InitComplete));
    assert!(seen.contains(&PlatformEvent::InvocationStarted { request_id: RequestId::new("r1").unwrap() }));
}

#[test]
fn answer_statuses() {
    let mut p = running_with_invocation(Some("n1"));
    let unknown = answer(&mut p, "r9", None, Bytes::new());
    assert_eq!((unknown.status().as_u16(), error_type(&unknown).as_str()), (400, "InvalidRequestID"));
    let no_echo = answer(&mut p, "r1", None, Bytes::new());
    assert_eq!((no_echo.status().as_u16(), error_type(&no_echo).as_str()), (400, "InvalidInvocationID"));
    let ok = answer(&mut p, "r1", Some("n1"), Bytes::from_static(b"done"));
    assert_eq!(ok.status(), 202);
    // Without INVOKE extensions the invocation is also over at once.
    assert_eq!(
        events(&mut p),
        vec![
            PlatformEvent::InvocationCompleted {
                request_id: RequestId::new("r1").unwrap(),
                outcome: Outcome::Response {
                    body: Bytes::from_static(b"done"),
                    streamed: false,
                    content_type: Some(http::HeaderValue::from_static("application/octet-stream"))
                }
            },
            PlatformEvent::InvocationEnded { request_id: RequestId::new("r1").unwrap() }
        ]
    );
    let twice = answer(&mut p, "r1", Some("n1"), Bytes::new());
    assert_eq!((twice.status().as_u16(), error_type(&twice).as_str()), (400, "InvalidRequestID"));
}

#[test]
fn a_413_ends_the_invocation_as_a_size_error_and_a_later_report_gets_403() {
    for mode in [Mode::Classic, Mode::Concurrent { max: NonZeroU16::new(2).unwrap() }] {
        let mut p = platform(mode);
        p.invoke(invocation("r1", Some("n1"))).unwrap();
        assert_eq!(call(&mut p, 1, rt::next(&addr()).unwrap()).unwrap().status(), 200);
        events(&mut p);
        let too_large = answer(&mut p, "r1", Some("n1"), Bytes::from(vec![0; 6 * 1024 * 1024 + 101]));
        assert_eq!(
            (too_large.status().as_u16(), error_type(&too_large).as_str()),
            (413, "RequestEntityTooLarge")
        );
        let [PlatformEvent::InvocationCompleted {
            outcome: Outcome::Error { error_type: recorded, body }, ..
        }] = &answers_recorded(&mut p)[..]
        else {
            panic!("the invocation ends at the 413 ({mode:?})")
        };
        assert_eq!(recorded, "Function.ResponseSizeTooLarge");
        assert!(String::from_utf8_lossy(body).contains("6291556"));
        let nonce = InvocationId::new("n1").unwrap();
        let report = ErrorReport::new("Function.ResponseSizeTooLarge", "again");
        let late = rt::error(&addr(), &RequestId::new("r1").unwrap(), Some(&nonce), &report).unwrap();
        let late = call(&mut p, 3, late).unwrap();
        assert_eq!((late.status().as_u16(), error_type(&late).as_str()), (403, "InvalidStateTransition"));
        let again = answer(&mut p, "r1", Some("n1"), Bytes::from_static(b"small"));
        assert_eq!(again.status(), 403, "{mode:?}");
        assert!(events(&mut p).is_empty(), "nothing more is recorded for r1");
    }
}

#[test]
fn a_body_the_server_could_not_read_ends_the_invocation_or_is_refused() {
    use lambda_sansio::platform::{UnreadableBody, TRUNCATED_RESPONSE};
    for (problem, status, recorded) in [
        (UnreadableBody::TooLarge, 413, "Function.ResponseSizeTooLarge"),
        (UnreadableBody::Truncated, 400, TRUNCATED_RESPONSE),
    ] {
        let mut p = running_with_invocation(None);
        let head = rt::response(&addr(), &RequestId::new("r1").unwrap(), None, Bytes::new(), None).unwrap();
        p.handle_unreadable_request(ConnId(3), &head, problem);
        let (_, reply) = p.poll_response().unwrap();
        assert_eq!(reply.status(), status);
        let [PlatformEvent::InvocationCompleted { outcome: Outcome::Error { error_type, .. }, .. }] =
            &answers_recorded(&mut p)[..]
        else {
            panic!("{problem:?} ends the invocation")
        };
        assert_eq!(error_type, recorded);
        // Not an active invocation, or not an answer: refused, nothing recorded.
        let unknown =
            rt::response(&addr(), &RequestId::new("r9").unwrap(), None, Bytes::new(), None).unwrap();
        p.handle_unreadable_request(ConnId(4), &unknown, problem);
        assert_eq!(p.poll_response().unwrap().1.status(), status);
        p.handle_unreadable_request(
            ConnId(5),
            &ext::register(&addr(), &ExtensionName::new("ext-a").unwrap(), &[], false).unwrap(),
            problem,
        );
        assert_eq!(p.poll_response().unwrap().1.status(), status);
        assert!(events(&mut p).is_empty());
    }
}

#[test]
fn error_reports_keep_a_well_formed_type_and_rewrite_others() {
    for (given, recorded) in [("Function.Bad", "Function.Bad"), ("bad type", "Runtime.Unknown")] {
        let mut p = running_with_invocation(None);
        let mut request =
            rt::error(&addr(), &RequestId::new("r1").unwrap(), None, &ErrorReport::new("X", "m")).unwrap();
        request.headers_mut().insert("lambda-runtime-function-error-type", given.parse().unwrap());
        assert_eq!(call(&mut p, 3, request).unwrap().status(), 202);
        let [PlatformEvent::InvocationCompleted { outcome: Outcome::Error { error_type, .. }, .. }] =
            &answers_recorded(&mut p)[..]
        else {
            panic!()
        };
        assert_eq!(error_type, recorded);
    }
}

#[test]
fn a_timed_out_invocation_answers_410_and_classic_mode_shuts_down() {
    let mut p = platform(Mode::Classic);
    let id = ext_id(&register(&mut p, "ext-a", &[EventType::Shutdown]));
    p.invoke(invocation("r1", None)).unwrap();
    p.handle_request(ConnId(1), &rt::next(&addr()).unwrap());
    p.handle_request(ConnId(2), &ext::next(&addr(), &id).unwrap());
    let (conn, _) = p.poll_response().unwrap();
    assert_eq!(conn, ConnId(1), "r1 went to the runtime");
    events(&mut p);
    assert!(p.timeout(&RequestId::new("r1").unwrap(), DeadlineMs(7)));
    let (conn, shutdown) = p.poll_response().unwrap();
    assert_eq!(conn, ConnId(2), "SHUTDOWN goes to the parked extension poll");
    let event: serde_json::Value = serde_json::from_slice(shutdown.body()).unwrap();
    assert_eq!(
        (event["eventType"].as_str(), event["shutdownReason"].as_str()),
        (Some("SHUTDOWN"), Some("timeout"))
    );
    assert!(p.is_shutting_down());
    let late = answer(&mut p, "r1", None, Bytes::new());
    assert_eq!((late.status().as_u16(), error_type(&late).as_str()), (410, "InvokeTimeout"));
}

#[test]
fn runtime_next_while_an_invocation_is_open_is_invalid_state() {
    let mut p = running_with_invocation(None);
    let again = call(&mut p, 4, rt::next(&addr()).unwrap()).unwrap();
    assert_eq!((again.status().as_u16(), error_type(&again).as_str()), (403, "InvalidStateTransition"));
}

#[test]
fn init_errors_are_recorded_and_only_accepted_during_init() {
    let mut p = platform(Mode::Classic);
    let report = ErrorReport::new("Runtime.NoHandler", "none");
    assert_eq!(call(&mut p, 1, rt::init_error(&addr(), &report).unwrap()).unwrap().status(), 202);
    assert!(
        matches!(&events(&mut p)[..], [PlatformEvent::InitFailed { source: InitFailure::Runtime, error_type, .. }] if error_type == "Runtime.NoHandler")
    );
    assert_eq!(error_type(&call(&mut p, 1, rt::next(&addr()).unwrap()).unwrap()), "InvalidStateTransition");

    let mut p = running_with_invocation(None);
    assert_eq!(
        error_type(&call(&mut p, 1, rt::init_error(&addr(), &report).unwrap()).unwrap()),
        "InvalidStateTransition"
    );
}

#[test]
fn subscriptions_are_validated_and_accepted_during_init_only() {
    let mut p = platform(Mode::Classic);
    let id = ext_id(&register(&mut p, "ext-a", &[EventType::Invoke]));
    events(&mut p);
    let sub = Subscription::new(
        SubscriptionApi::Telemetry,
        &[RecordCategory::Function],
        Buffering::default(),
        "http://sandbox.localdomain:1/",
    )
    .unwrap();
    let mut bad = sub.request(&addr(), &id).unwrap();
    *bad.body_mut() = Bytes::from_static(br#"{"schemaVersion":"2022-12-13","types":["platform"],"buffering":{"maxItems":1,"maxBytes":262144,"timeoutMs":100},"destination":{"protocol":"HTTP","URI":"http://h:1"}}"#);
    let refused = call(&mut p, 1, bad).unwrap();
    assert_eq!((refused.status().as_u16(), error_type(&refused).as_str()), (400, "ValidationError"));
    assert_eq!(call(&mut p, 1, sub.request(&addr(), &id).unwrap()).unwrap().status(), 200);
    assert!(
        matches!(&events(&mut p)[..], [PlatformEvent::Subscribed { subscription, .. }] if subscription == &sub)
    );
    let logs = Subscription::new(
        SubscriptionApi::Logs,
        &[RecordCategory::Function],
        Buffering::default(),
        "http://h:1/",
    )
    .unwrap();
    assert_eq!(error_type(&call(&mut p, 1, logs.request(&addr(), &id).unwrap()).unwrap()), "ValidationError");
    call(&mut p, 2, ext::next(&addr(), &id).unwrap());
    assert_eq!(call(&mut p, 1, sub.request(&addr(), &id).unwrap()).unwrap().status(), 403);
}

#[test]
fn managed_instances_deliver_up_to_max_at_once() {
    let mut p = platform(Mode::Concurrent { max: NonZeroU16::new(2).unwrap() });
    for id in ["a", "b", "c"] {
        p.invoke(invocation(id, None)).unwrap();
    }
    assert_eq!(call(&mut p, 1, rt::next(&addr()).unwrap()).unwrap().status(), 200);
    assert_eq!(call(&mut p, 2, rt::next(&addr()).unwrap()).unwrap().status(), 200);
    assert_eq!(p.unanswered_invocations().count(), 2);
    let third = call(&mut p, 3, rt::next(&addr()).unwrap()).unwrap();
    assert_eq!(error_type(&third), "InvalidStateTransition", "no free slot");
    assert_eq!(answer(&mut p, "a", None, Bytes::new()).status(), 202);
    let c = call(&mut p, 3, rt::next(&addr()).unwrap()).unwrap();
    assert_eq!(c.headers()["lambda-runtime-aws-request-id"], "c");
}

#[test]
fn shutdown_aborts_queued_invocations_and_reaches_extensions_that_poll_later() {
    let mut p = platform(Mode::Classic);
    let id = ext_id(&register(&mut p, "ext-a", &[EventType::Shutdown]));
    p.invoke(invocation("r1", None)).unwrap();
    p.shutdown(ShutdownReason::Spindown, DeadlineMs(5));
    assert!(events(&mut p)
        .iter()
        .any(|e| matches!(e, PlatformEvent::InvocationCompleted { outcome: Outcome::Aborted, .. })));
    let shutdown = call(&mut p, 2, ext::next(&addr(), &id).unwrap()).unwrap();
    let event: serde_json::Value = serde_json::from_slice(shutdown.body()).unwrap();
    assert_eq!(event["shutdownReason"], "spindown");
    assert!(matches!(&events(&mut p)[..], [PlatformEvent::ShutdownDelivered { .. }]));
    assert!(p.invoke(invocation("r2", None)).is_err());
}

#[test]
fn unknown_paths_and_methods_are_answered() {
    let mut p = platform(Mode::Classic);
    let get = |path: &str, method: http::Method| {
        http::Request::builder().method(method).uri(path).body(Bytes::new()).unwrap()
    };
    assert_eq!(call(&mut p, 1, get("/nope", http::Method::GET)).unwrap().status(), 404);
    assert_eq!(
        call(&mut p, 1, get("/2018-06-01/runtime/invocation/next", http::Method::POST)).unwrap().status(),
        405
    );
}

#[test]
fn a_failed_delivery_puts_the_invocation_and_event_back() {
    let mut p = platform(Mode::Classic);
    let id = ext_id(&register(&mut p, "ext-a", &[EventType::Invoke]));
    p.invoke(invocation("r1", None)).unwrap();
    p.handle_request(ConnId(1), &rt::next(&addr()).unwrap());
    p.handle_request(ConnId(2), &ext::next(&addr(), &id).unwrap());
    let delivered: Vec<ConnId> = std::iter::from_fn(|| p.poll_response()).map(|(c, _)| c).collect();
    assert_eq!(delivered, vec![ConnId(2), ConnId(1)]);
    p.delivery_failed(ConnId(1));
    p.delivery_failed(ConnId(2));
    assert_eq!(p.unanswered_invocations().count(), 1, "still started, awaiting delivery");
    assert_eq!(p.queued_invocations(), 0);
    events(&mut p);
    // The retried polls get the same invocation and event again.
    p.handle_request(ConnId(4), &ext::next(&addr(), &id).unwrap());
    p.handle_request(ConnId(3), &rt::next(&addr()).unwrap());
    let again: Vec<(ConnId, http::Response<Bytes>)> = std::iter::from_fn(|| p.poll_response()).collect();
    assert_eq!(again.len(), 2);
    let runtime = &again.iter().find(|(c, _)| *c == ConnId(3)).unwrap().1;
    assert_eq!(runtime.headers()["lambda-runtime-aws-request-id"], "r1");
    let event = &again.iter().find(|(c, _)| *c == ConnId(4)).unwrap().1;
    assert!(std::str::from_utf8(event.body()).unwrap().contains("\"requestId\":\"r1\""));
    assert!(
        !std::iter::from_fn(|| p.poll_event()).any(|e| matches!(e, PlatformEvent::InvocationStarted { .. })),
        "redelivery is not a new start"
    );
}

#[test]
fn managed_instances_refuse_invoke_registration_and_subscriptions_outside_their_rules() {
    let mut p = platform(Mode::Concurrent { max: NonZeroU16::new(2).unwrap() });
    let invoke = register(&mut p, "ext-a", &[EventType::Invoke, EventType::Shutdown]);
    assert_eq!((invoke.status().as_u16(), error_type(&invoke).as_str()), (403, "Extension.InvalidEventType"));
    let id = ext_id(&register(&mut p, "ext-a", &[EventType::Shutdown]));
    events(&mut p);
    let subscription = |schema: &str, destination: &str| {
        Subscription::new(
            SubscriptionApi::Telemetry,
            &[RecordCategory::Platform],
            Buffering::default(),
            destination,
        )
        .unwrap()
        .with_schema_version(schema)
    };
    for (schema, destination) in [
        ("2022-12-13", "http://sandbox.localdomain:1/"),
        ("2025-01-29", "http://127.0.0.1:1/"),
        ("2025-01-29", "http://localhost:1/"),
    ] {
        let refused =
            call(&mut p, 1, subscription(schema, destination).request(&addr(), &id).unwrap()).unwrap();
        assert_eq!(
            (refused.status().as_u16(), error_type(&refused).as_str()),
            (400, "ValidationError"),
            "{schema} {destination}"
        );
    }
    assert!(events(&mut p).is_empty(), "no refused subscription is recorded");
    let good = subscription("2025-01-29", "http://sandbox.localdomain:1/");
    assert_eq!(call(&mut p, 1, good.request(&addr(), &id).unwrap()).unwrap().status(), 200);
    // Classic mode keeps accepting the older schema on any host.
    let mut classic = platform(Mode::Classic);
    let id = ext_id(&register(&mut classic, "ext-a", &[EventType::Invoke]));
    let older = subscription("2022-12-13", "http://127.0.0.1:1/");
    assert_eq!(call(&mut classic, 1, older.request(&addr(), &id).unwrap()).unwrap().status(), 200);
}
