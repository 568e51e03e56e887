//! One test per row of the runtime machine's status table.

#![allow(clippy::unwrap_used)]

mod support;

use std::num::NonZeroU16;
use std::time::{Duration, Instant};

use bytes::Bytes;
use lambda_sansio::runtime::{
    ExitReason, Mode, Rejection, RuntimeConfig, RuntimeError, RuntimeEvent, RuntimeMachine,
};
use lambda_sansio::{
    ApiAddress, BodyMode, Call, ErrorReport, Outbound, RequestId, RetryPolicy, Token, TransportError,
    TransportErrorKind,
};
use support::{answer, error_answer, invocation, parse_call, ParsedCall, ADDRESS};

fn config(mode: Mode) -> RuntimeConfig {
    RuntimeConfig {
        address: ApiAddress::parse(ADDRESS).unwrap(),
        mode,
        retry: RetryPolicy {
            max_retries: 2,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(15),
        },
        pipelining: false,
        trace_id_env: true,
    }
}

fn now() -> Instant {
    Instant::now()
}

fn classic() -> RuntimeMachine {
    RuntimeMachine::new(config(Mode::Classic))
}

fn poll(machine: &mut RuntimeMachine) -> (Outbound, ParsedCall) {
    let out = machine.poll_request().expect("a request");
    let parsed = parse_call(&out.request, "");
    (out, parsed)
}

fn id(text: &str) -> RequestId {
    RequestId::new(text).unwrap()
}

/// Polls next, answers it with invocation `request_id`, returns the event.
fn invoke(machine: &mut RuntimeMachine, request_id: &str) -> RuntimeEvent {
    let (out, parsed) = poll(machine);
    assert_eq!(parsed, ParsedCall::RuntimeNext);
    assert!(out.call.is_long_poll());
    machine.handle_response(out.token, invocation(request_id, "{}")).unwrap();
    machine.poll_event().unwrap()
}

fn assert_exit_is_sticky(machine: &mut RuntimeMachine, error: &RuntimeError) {
    assert!(error.is_fatal());
    assert_eq!(machine.poll_event(), Some(RuntimeEvent::Exit(ExitReason::Fatal(error.clone()))));
    assert_eq!(machine.poll_event(), None, "Exit is emitted once");
    assert!(machine.poll_request().is_none());
    assert!(machine.poll_timeout().is_none());
    assert_eq!(machine.respond(&id("r1"), Bytes::new()), Err(error.clone()));
    assert_eq!(machine.handle_response(Token(0), answer(202, &[], "")), Err(error.clone()));
    assert_eq!(
        machine.handle_transport_error(Token(0), TransportError::new(TransportErrorKind::Reset, "x"), now()),
        Err(error.clone())
    );
    machine.handle_timeout(now());
    assert!(machine.poll_request().is_none(), "time changes nothing after the exit");
    assert_eq!(machine.exit_reason(), Some(&ExitReason::Fatal(error.clone())));
}

#[test]
fn next_200_delivers_the_invocation_and_the_answer_echoes_the_invocation_id() {
    let mut machine = classic();
    let (out, _) = poll(&mut machine);
    let next = answer(
        200,
        &[("lambda-runtime-aws-request-id", "r1"), ("lambda-runtime-invocation-id", "nonce-9")],
        "{\"x\":1}",
    );
    machine.handle_response(out.token, next).unwrap();
    let Some(RuntimeEvent::Invoke(inv)) = machine.poll_event() else { panic!("no invocation") };
    assert_eq!(inv.payload, Bytes::from_static(b"{\"x\":1}"));
    assert!(machine.poll_request().is_none(), "nothing to send while the handler runs");
    assert_eq!(machine.pending_invocations().collect::<Vec<_>>(), vec![&id("r1")]);
    machine.respond(&inv.request_id, Bytes::from_static(b"ok")).unwrap();
    let (_, parsed) = poll(&mut machine);
    assert_eq!(
        parsed,
        ParsedCall::Response {
            id: "r1".into(),
            invocation_id: Some("nonce-9".into()),
            body: Bytes::from_static(b"ok"),
            streamed: false
        }
    );
}

#[test]
fn answers_without_an_invocation_id_send_none() {
    let mut machine = classic();
    invoke(&mut machine, "r1");
    machine.respond_error(&id("r1"), ErrorReport::new("ParseIntError", "bad")).unwrap();
    let (out, parsed) = poll(&mut machine);
    assert_eq!(out.call, Call::RuntimeError);
    let ParsedCall::InvocationError { invocation_id, error_type, report, .. } = parsed else { panic!() };
    assert_eq!(invocation_id, None);
    assert_eq!(error_type, "Function.ParseIntError");
    assert_eq!(report["errorType"], "ParseIntError");
    assert_eq!(report["errorMessage"], "bad");
}

#[test]
fn next_without_a_usable_request_id_is_fatal() {
    for headers in [
        vec![],
        vec![("lambda-runtime-aws-request-id", "../init/error")],
        vec![("lambda-runtime-aws-request-id", "a%2Fb")],
        vec![("lambda-runtime-aws-request-id", "r1"), ("lambda-runtime-invocation-id", "a b")],
    ] {
        let mut machine = classic();
        let (out, _) = poll(&mut machine);
        let error = machine.handle_response(out.token, answer(200, &headers, "{}")).unwrap_err();
        assert!(matches!(error, RuntimeError::BadInvocation(_)), "{headers:?}");
        assert_exit_is_sticky(&mut machine, &error);
    }
}

#[test]
fn next_403_500_and_unexpected_statuses_are_fatal_and_sticky() {
    for (status, error_type) in
        [(403, "InvalidStateTransition"), (500, "ServiceException"), (404, "NotFound"), (302, "x")]
    {
        let mut machine = classic();
        let (out, _) = poll(&mut machine);
        let error = machine.handle_response(out.token, error_answer(status, error_type)).unwrap_err();
        let RuntimeError::Status { call, status: got, ref server } = error else { panic!("{error:?}") };
        assert_eq!((call, got), (Call::RuntimeNext, status));
        assert!(server.is(error_type));
        assert_exit_is_sticky(&mut machine, &error);
    }
}

#[test]
fn response_202_goes_on_with_the_next_invocation() {
    let mut machine = classic();
    invoke(&mut machine, "r1");
    machine.respond(&id("r1"), Bytes::from_static(b"1")).unwrap();
    let (out, _) = poll(&mut machine);
    machine.handle_response(out.token, answer(202, &[], r#"{"status":"OK"}"#)).unwrap();
    assert_eq!(machine.poll_event(), Some(RuntimeEvent::Answered { request_id: id("r1") }));
    assert!(matches!(invoke(&mut machine, "r2"), RuntimeEvent::Invoke(_)));
}

fn rejected_then_next(status: u16, error_type: &str, expected: Rejection, answer_error: bool) {
    let mut machine = classic();
    invoke(&mut machine, "r1");
    if answer_error {
        machine.respond_error(&id("r1"), ErrorReport::new("Function.Oops", "m")).unwrap();
    } else {
        machine.respond(&id("r1"), Bytes::from_static(b"1")).unwrap();
    }
    let (out, _) = poll(&mut machine);
    machine.handle_response(out.token, error_answer(status, error_type)).unwrap();
    let Some(RuntimeEvent::Rejected { request_id, status: got, rejection, server, .. }) =
        machine.poll_event()
    else {
        panic!("no rejection")
    };
    assert_eq!((request_id, got, rejection), (id("r1"), status, expected));
    assert!(server.is(error_type));
    assert_eq!(poll(&mut machine).1, ParsedCall::RuntimeNext, "the runtime goes on");
    assert!(machine.exit_reason().is_none());
}

#[test]
fn response_400_invalid_request_id_is_reported_and_the_loop_goes_on() {
    rejected_then_next(400, "InvalidRequestID", Rejection::InvalidRequestId, false);
    rejected_then_next(400, "InvalidRequestID", Rejection::InvalidRequestId, true);
}

#[test]
fn response_410_invoke_timeout_is_reported_and_the_loop_goes_on() {
    rejected_then_next(410, "InvokeTimeout", Rejection::InvokeTimeout, false);
}

#[test]
fn other_client_errors_are_reported_and_the_loop_goes_on() {
    rejected_then_next(400, "InvalidFunctionResponseMode", Rejection::Other, false);
    rejected_then_next(400, "TruncatedHTTPRequest", Rejection::Other, false);
    rejected_then_next(429, "TooMany", Rejection::Other, false);
}

#[test]
fn a_buffered_response_refused_with_413_ends_the_invocation_and_next_is_polled() {
    // PROTOCOL.md: after a 413 the platform reports Function.ResponseSizeTooLarge
    // itself and marks the response sent; a report of ours would get 403.
    let mut machine = classic();
    invoke(&mut machine, "r1");
    machine.respond(&id("r1"), Bytes::from(vec![b'x'; 7 * 1024 * 1024])).unwrap();
    let (out, _) = poll(&mut machine);
    machine.handle_response(out.token, error_answer(413, "RequestEntityTooLarge")).unwrap();
    assert!(matches!(
        machine.poll_event(),
        Some(RuntimeEvent::Rejected {
            rejection: Rejection::PayloadTooLarge,
            replaced: false,
            call: Call::RuntimeResponse,
            ..
        })
    ));
    assert_eq!(poll(&mut machine).1, ParsedCall::RuntimeNext, "no error report follows");
    assert_eq!(machine.pending_invocations().count(), 0);
}

#[test]
fn a_buffered_response_refused_as_truncated_ends_the_invocation_too() {
    let mut machine = classic();
    invoke(&mut machine, "r1");
    machine.respond(&id("r1"), Bytes::from_static(b"half")).unwrap();
    let (out, _) = poll(&mut machine);
    machine.handle_response(out.token, error_answer(400, "TruncatedHTTPRequest")).unwrap();
    assert!(matches!(machine.poll_event(), Some(RuntimeEvent::Rejected { replaced: false, .. })));
    assert_eq!(poll(&mut machine).1, ParsedCall::RuntimeNext);
}

#[test]
fn buffered_responses_carry_a_content_type() {
    let mut machine = classic();
    invoke(&mut machine, "r1");
    machine.respond(&id("r1"), Bytes::from_static(b"raw")).unwrap();
    let (out, _) = poll(&mut machine);
    assert_eq!(out.request.headers()["content-type"], "application/octet-stream");
    machine.handle_response(out.token, answer(202, &[], "")).unwrap();
    machine.poll_event();
    invoke(&mut machine, "r2");
    let json = http::HeaderValue::from_static("application/json");
    machine.respond_with_content_type(&id("r2"), Bytes::from_static(b"{}"), Some(json)).unwrap();
    let (out, _) = poll(&mut machine);
    assert_eq!(out.request.headers()["content-type"], "application/json");
}

#[test]
fn a_streamed_response_refused_as_too_large_is_replaced_too() {
    let mut machine = classic();
    invoke(&mut machine, "r1");
    machine.respond_streaming(&id("r1"), None).unwrap();
    let (out, _) = poll(&mut machine);
    assert_eq!(out.body, BodyMode::Streamed);
    machine.handle_response(out.token, error_answer(413, "RequestEntityTooLarge")).unwrap();
    assert!(matches!(machine.poll_event(), Some(RuntimeEvent::Rejected { replaced: true, .. })));
    let (_, parsed) = poll(&mut machine);
    assert!(
        matches!(parsed, ParsedCall::InvocationError { ref error_type, .. } if error_type == "Function.ResponseSizeTooLarge")
    );
}

#[test]
fn only_a_replaced_rejection_says_so() {
    for (status, error_type, answer_error) in [
        (410, "InvokeTimeout", false),
        (400, "InvalidRequestID", false),
        (413, "RequestEntityTooLarge", true),
    ] {
        let mut machine = classic();
        invoke(&mut machine, "r1");
        if answer_error {
            machine.respond_error(&id("r1"), ErrorReport::new("E", "m")).unwrap();
        } else {
            machine.respond(&id("r1"), Bytes::new()).unwrap();
        }
        let (out, _) = poll(&mut machine);
        machine.handle_response(out.token, error_answer(status, error_type)).unwrap();
        assert!(
            matches!(machine.poll_event(), Some(RuntimeEvent::Rejected { replaced: false, .. })),
            "{status}"
        );
    }
}

#[test]
fn a_413_on_the_error_report_itself_does_not_loop() {
    rejected_then_next(413, "RequestEntityTooLarge", Rejection::PayloadTooLarge, true);
}

#[test]
fn answer_403_and_5xx_are_fatal_and_sticky() {
    for status in [403, 500, 502, 503] {
        let mut machine = classic();
        invoke(&mut machine, "r1");
        machine.respond(&id("r1"), Bytes::new()).unwrap();
        let (out, _) = poll(&mut machine);
        let error = machine.handle_response(out.token, error_answer(status, "Boom")).unwrap_err();
        assert!(matches!(error, RuntimeError::Status { call: Call::RuntimeResponse, .. }));
        assert_eq!(machine.poll_event(), Some(RuntimeEvent::Exit(ExitReason::Fatal(error.clone()))));
        assert!(machine.poll_request().is_none());
        assert_eq!(machine.respond(&id("r2"), Bytes::new()), Err(error));
    }
}

#[test]
fn init_error_is_reported_then_the_machine_exits() {
    let mut report = ErrorReport::new("Runtime.HandlerNotFound", "no handler").with_stack_trace(["main"]);
    report.set_xray_cause(&serde_json::json!({"paths": []}));
    let mut machine = RuntimeMachine::init_failed(config(Mode::Classic), report);
    let (out, parsed) = poll(&mut machine);
    assert_eq!(out.call, Call::RuntimeInitError);
    assert_eq!(out.request.headers()["lambda-runtime-function-xray-error-cause"], r#"{"paths":[]}"#);
    let ParsedCall::InitError { error_type, report } = parsed else { panic!() };
    assert_eq!(error_type, "Runtime.HandlerNotFound");
    assert_eq!(report["stackTrace"], serde_json::json!(["main"]));
    assert!(machine.poll_request().is_none(), "no next poll after an init error");
    machine.handle_response(out.token, answer(202, &[], "")).unwrap();
    assert_eq!(machine.poll_event(), Some(RuntimeEvent::Exit(ExitReason::InitErrorReported)));
    assert!(machine.poll_request().is_none());
    assert_eq!(machine.respond(&id("r"), Bytes::new()), Err(RuntimeError::Exited));
}

#[test]
fn init_error_refused_is_fatal() {
    for status in [403, 500] {
        let mut machine = RuntimeMachine::init_failed(config(Mode::Classic), ErrorReport::new("E", "m"));
        let (out, _) = poll(&mut machine);
        let error = machine.handle_response(out.token, error_answer(status, "X")).unwrap_err();
        assert!(matches!(error, RuntimeError::Status { call: Call::RuntimeInitError, .. }));
        assert_exit_is_sticky(&mut machine, &error);
    }
}

#[test]
fn transport_errors_back_off_then_retry_then_give_up() {
    let mut machine = classic();
    let reset = || TransportError::new(TransportErrorKind::Reset, "connection reset");
    let (out, _) = poll(&mut machine);
    let t0 = now();
    machine.handle_transport_error(out.token, reset(), t0).unwrap();
    assert!(machine.poll_request().is_none(), "no resend before the back-off");
    let due = machine.poll_timeout().unwrap();
    assert_eq!(due, t0 + Duration::from_millis(10));
    assert_eq!(machine.poll_timeout(), Some(due), "asking again changes nothing");
    machine.handle_timeout(due - Duration::from_micros(1));
    assert!(machine.poll_request().is_none(), "an early wake-up is a no-op");
    machine.handle_timeout(due);
    let (out, parsed) = poll(&mut machine);
    assert_eq!(parsed, ParsedCall::RuntimeNext);
    machine.handle_transport_error(out.token, reset(), due).unwrap();
    let again = machine.poll_timeout().unwrap();
    assert_eq!(again, due + Duration::from_millis(15), "doubled, then capped");
    machine.handle_timeout(again + Duration::from_secs(60));
    let (out, _) = poll(&mut machine);
    let error = machine.handle_transport_error(out.token, reset(), again).unwrap_err();
    assert_eq!(error, RuntimeError::Transport { call: Call::RuntimeNext, attempts: 3, last: reset() });
    assert_exit_is_sticky(&mut machine, &error);
}

#[test]
fn a_retried_answer_is_the_same_answer_and_success_resets_the_count() {
    let mut machine = classic();
    invoke(&mut machine, "r1");
    machine.respond(&id("r1"), Bytes::from_static(b"payload")).unwrap();
    let (first, parsed_first) = poll(&mut machine);
    let t0 = now();
    machine
        .handle_transport_error(first.token, TransportError::new(TransportErrorKind::Connect, "refused"), t0)
        .unwrap();
    let due = machine.poll_timeout().unwrap();
    machine.handle_timeout(due);
    let (second, parsed_second) = poll(&mut machine);
    assert_eq!(parsed_first, parsed_second);
    machine.handle_response(second.token, answer(202, &[], "")).unwrap();
    assert_eq!(machine.poll_event(), Some(RuntimeEvent::Answered { request_id: id("r1") }));
    for round in 0..5 {
        let (out, _) = poll(&mut machine);
        machine
            .handle_transport_error(out.token, TransportError::new(TransportErrorKind::Reset, "x"), t0)
            .unwrap();
        let due = machine.poll_timeout().unwrap();
        assert_eq!(due, t0 + Duration::from_millis(10), "the first back-off again: round {round}");
        machine.handle_timeout(due);
        let (out, _) = poll(&mut machine);
        machine.handle_response(out.token, invocation(&format!("r{round}x"), "")).unwrap();
        let Some(RuntimeEvent::Invoke(inv)) = machine.poll_event() else { panic!() };
        machine.respond(&inv.request_id, Bytes::new()).unwrap();
        let (out, _) = poll(&mut machine);
        machine.handle_response(out.token, answer(202, &[], "")).unwrap();
        assert_eq!(machine.poll_event(), Some(RuntimeEvent::Answered { request_id: inv.request_id }));
    }
}

#[test]
fn streamed_answers_carry_the_streaming_head_and_are_not_resent() {
    let mut machine = classic();
    let (out, _) = poll(&mut machine);
    machine
        .handle_response(
            out.token,
            answer(
                200,
                &[("lambda-runtime-aws-request-id", "s1"), ("lambda-runtime-invocation-id", "n")],
                "",
            ),
        )
        .unwrap();
    machine.poll_event();
    let content_type = http::HeaderValue::from_static("application/vnd.awslambda.http-integration-response");
    machine.respond_streaming(&id("s1"), Some(content_type.clone())).unwrap();
    let (out, parsed) = poll(&mut machine);
    assert_eq!(out.body, BodyMode::Streamed);
    assert!(matches!(parsed, ParsedCall::Response { streamed: true, invocation_id: Some(_), .. }));
    assert_eq!(out.request.headers()["content-type"], content_type);
    assert_eq!(out.request.headers()["connection"], "close");
    let lost = TransportError::new(TransportErrorKind::Reset, "peer closed");
    machine.handle_transport_error(out.token, lost.clone(), now()).unwrap();
    assert_eq!(machine.poll_event(), Some(RuntimeEvent::StreamLost { request_id: id("s1"), error: lost }));
    assert!(machine.poll_timeout().is_none());
    assert_eq!(poll(&mut machine).1, ParsedCall::RuntimeNext);
}

#[test]
fn misuse_is_a_typed_error_that_changes_nothing() {
    let mut machine = classic();
    assert_eq!(
        machine.handle_response(Token(0), answer(200, &[], "")),
        Err(RuntimeError::UnexpectedResponse(Token(0)))
    );
    invoke(&mut machine, "r1");
    assert_eq!(machine.respond(&id("nope"), Bytes::new()), Err(RuntimeError::UnknownRequestId(id("nope"))));
    machine.handle_timeout(now());
    assert!(machine.poll_request().is_none(), "a spurious wake-up sends nothing");
    assert_eq!(
        machine.handle_response(Token(7), answer(202, &[], "")),
        Err(RuntimeError::UnexpectedResponse(Token(7)))
    );
    machine.respond(&id("r1"), Bytes::new()).unwrap();
    assert_eq!(machine.respond(&id("r1"), Bytes::new()), Err(RuntimeError::AlreadyAnswered(id("r1"))));
    assert_eq!(
        machine.respond_error(&id("r1"), ErrorReport::default()),
        Err(RuntimeError::AlreadyAnswered(id("r1")))
    );
    let (out, _) = poll(&mut machine);
    machine.handle_response(out.token, answer(202, &[], "")).unwrap();
    assert_eq!(machine.respond(&id("r1"), Bytes::new()), Err(RuntimeError::UnknownRequestId(id("r1"))));
    assert!(machine.exit_reason().is_none());
    assert_eq!(poll(&mut machine).1, ParsedCall::RuntimeNext);
}

fn concurrent(max: u16) -> RuntimeMachine {
    RuntimeMachine::new(config(Mode::Concurrent { max: NonZeroU16::new(max).unwrap() }))
}

#[test]
fn concurrent_mode_keeps_one_request_per_slot_in_flight() {
    let mut machine = concurrent(3);
    let polls: Vec<Outbound> = std::iter::from_fn(|| machine.poll_request()).collect();
    assert_eq!(polls.iter().map(|o| o.token).collect::<Vec<_>>(), vec![Token(0), Token(1), Token(2)]);
    machine.handle_response(Token(1), invocation("b", "")).unwrap();
    machine.handle_response(Token(0), invocation("a", "")).unwrap();
    assert!(machine.poll_request().is_none());
    machine.respond(&id("a"), Bytes::new()).unwrap();
    machine.respond_error(&id("b"), ErrorReport::new("E", "m")).unwrap();
    let answers: Vec<(Token, ParsedCall)> = std::iter::from_fn(|| machine.poll_request())
        .map(|o| (o.token, parse_call(&o.request, "")))
        .collect();
    assert!(matches!(&answers[0], (Token(0), ParsedCall::Response { id, .. }) if id == "a"));
    assert!(matches!(&answers[1], (Token(1), ParsedCall::InvocationError { id, .. }) if id == "b"));
    assert_eq!(answers.len(), 2);
}

#[test]
fn a_request_id_delivered_twice_at_once_is_fatal() {
    let mut machine = concurrent(2);
    let (a, b) = (machine.poll_request().unwrap(), machine.poll_request().unwrap());
    machine.handle_response(a.token, invocation("same", "")).unwrap();
    let error = machine.handle_response(b.token, invocation("same", "")).unwrap_err();
    assert_eq!(error, RuntimeError::DuplicateInvocation(id("same")));
    machine.poll_event();
    assert_exit_is_sticky(&mut machine, &error);
}

#[test]
fn a_fatal_status_on_one_slot_stops_every_slot() {
    let mut machine = concurrent(2);
    let (a, b) = (machine.poll_request().unwrap(), machine.poll_request().unwrap());
    machine.handle_response(a.token, invocation("x", "")).unwrap();
    let error = machine.handle_response(b.token, error_answer(500, "Boom")).unwrap_err();
    assert!(matches!(machine.poll_event(), Some(RuntimeEvent::Invoke(_))));
    assert_exit_is_sticky(&mut machine, &error);
}

#[test]
fn the_api_prefix_is_kept_in_every_path() {
    let mut cfg = config(Mode::Classic);
    cfg.address = ApiAddress::parse("http://127.0.0.1:9100/.rt").unwrap();
    let mut machine = RuntimeMachine::new(cfg);
    let out = machine.poll_request().unwrap();
    assert_eq!(out.request.uri(), "http://127.0.0.1:9100/.rt/2018-06-01/runtime/invocation/next");
    assert_eq!(parse_call(&out.request, "/.rt"), ParsedCall::RuntimeNext);
}

#[test]
fn an_unreadable_next_answer_with_a_readable_id_is_reported_for_that_invocation() {
    for kind in [TransportErrorKind::MalformedResponse, TransportErrorKind::BodyTooLarge] {
        let mut machine = classic();
        let (out, _) = poll(&mut machine);
        let head = "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r1\r\nLambda-Runtime-Invocation-Id: n1\r\n\r\n";
        let error = TransportError::new(kind, "answer head has more than 128 headers").with_head(head.into());
        machine.handle_transport_error(out.token, error.clone(), now()).unwrap();
        assert_eq!(
            machine.poll_event(),
            Some(RuntimeEvent::InvocationUnreadable { request_id: id("r1"), error })
        );
        let (out, parsed) = poll(&mut machine);
        assert_eq!(out.call, Call::RuntimeError, "{kind:?}: not polled again, which would lose it");
        let ParsedCall::InvocationError { id: got, invocation_id, error_type, report } = parsed else {
            panic!("{parsed:?}")
        };
        assert_eq!((got.as_str(), invocation_id.as_deref()), ("r1", Some("n1")));
        assert_eq!(error_type, "Runtime.InvalidEvent");
        assert!(report["errorMessage"].as_str().unwrap().contains("more than 128 headers"), "{report}");
        machine.handle_response(out.token, answer(202, &[], "")).unwrap();
        assert_eq!(machine.poll_event(), Some(RuntimeEvent::Answered { request_id: id("r1") }));
        assert_eq!(poll(&mut machine).1, ParsedCall::RuntimeNext);
    }
}

#[test]
fn an_unreadable_next_answer_without_a_readable_id_is_fatal_with_the_cause() {
    for head in [None, Some("HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: a\rb\r\n\r\n")] {
        let mut machine = classic();
        let (out, _) = poll(&mut machine);
        let mut error = TransportError::new(TransportErrorKind::MalformedResponse, "invalid header value");
        error.head = head.map(Into::into);
        let fatal = machine.handle_transport_error(out.token, error.clone(), now()).unwrap_err();
        assert_eq!(fatal, RuntimeError::UnreadableInvocation(error));
        assert!(fatal.to_string().contains("invalid header value"), "{fatal}");
        assert_exit_is_sticky(&mut machine, &fatal);
    }
}

#[test]
fn a_broken_connection_during_next_is_retried_not_reported() {
    let mut machine = classic();
    let (out, _) = poll(&mut machine);
    let head = "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r1\r\n\r\n";
    let reset = TransportError::new(TransportErrorKind::Reset, "body truncated").with_head(head.into());
    machine.handle_transport_error(out.token, reset, now()).unwrap();
    assert_eq!(machine.poll_event(), None, "the platform redelivers what it could not write");
    assert!(machine.poll_timeout().is_some());
}
