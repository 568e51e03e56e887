//! Arbitrary sequences of platform answers (any status, any header set, any
//! body bytes, transport failures) fed to both machines: no panic, no request
//! after exit, no invocation answered twice, no identifier the platform did
//! not issue.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::HashSet;
use std::num::NonZeroU16;
use std::time::{Duration, Instant};

use bytes::Bytes;
use lambda_sansio::extension::{EventType, ExtensionConfig, ExtensionEvent, ExtensionMachine};
use lambda_sansio::runtime::{Mode, RuntimeConfig, RuntimeEvent, RuntimeMachine};
use lambda_sansio::telemetry::{Buffering, RecordCategory, Subscription, SubscriptionApi};
use lambda_sansio::{
    ApiAddress, ErrorReport, ExtensionName, RequestId, RetryPolicy, Token, TransportError, TransportErrorKind,
};
use proptest::prelude::*;
use support::{parse_call, ParsedCall, ADDRESS};

/// What the platform does with one request.
#[derive(Debug, Clone)]
enum Reply {
    Answer {
        status: u16,
        headers: Vec<(&'static str, Vec<u8>)>,
        body: Vec<u8>,
    },
    Fail,
    /// An answer arrived that the driver could not read; the raw head it kept.
    Unreadable(Vec<u8>),
}

/// What the host does with one event that needs an answer.
#[derive(Debug, Clone, Copy)]
enum HostMove {
    Respond,
    RespondError,
    RespondStreaming,
    AnswerTwice,
    SubscribeFirst,
    InitError,
    ExitError,
}

const HEADER_NAMES: [&str; 6] = [
    "lambda-runtime-aws-request-id",
    "lambda-runtime-invocation-id",
    "lambda-runtime-deadline-ms",
    "lambda-runtime-trace-id",
    "lambda-extension-identifier",
    "lambda-runtime-client-context",
];

fn header_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::sample::select(vec!["r1", "r2", "r3", "id-4", "ext-1"]).prop_map(|s| s.as_bytes().to_vec()),
        1 => prop::sample::select(vec!["../x", "a/b", "a?b", "%2f", ".", "a\tb"]).prop_map(|s| s.as_bytes().to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..300),
    ]
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        2 => prop::sample::select(vec![
            r#"{"eventType":"INVOKE","requestId":"r1","deadlineMs":1}"#,
            r#"{"eventType":"SHUTDOWN","shutdownReason":"spindown","deadlineMs":2}"#,
            r#"{"eventType":"shutdown","shutdownReason":"Failure"}"#,
            r#"{"eventType":"RESTORE"}"#,
            r#"{"errorType":"InvalidRequestID","errorMessage":"x"}"#,
            r#"{"errorType":"Telemetry.NotSupported"}"#,
            "{}",
            "",
        ]).prop_map(|s| s.as_bytes().to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..64),
    ]
}

fn reply() -> impl Strategy<Value = Reply> {
    let status = prop_oneof![
        6 => Just(200u16),
        2 => Just(202u16),
        1 => prop::sample::select(vec![400u16, 403, 404, 410, 413, 429, 500, 502]),
        1 => 100u16..600,
    ];
    let headers = prop::collection::vec((prop::sample::select(HEADER_NAMES.to_vec()), header_value()), 0..5);
    prop_oneof![
        9 => (status, headers, body()).prop_map(|(status, mut headers, body)| {
            // Most next answers carry a request id, so invocations happen often.
            if status == 200 && headers.len() % 2 == 0 {
                headers.push(("lambda-runtime-aws-request-id", b"r1".to_vec()));
                headers.push(("lambda-extension-identifier", b"ext-1".to_vec()));
            }
            Reply::Answer { status, headers, body }
        }),
        1 => Just(Reply::Fail),
        1 => prop_oneof![
            header_value().prop_map(|id| {
                let mut head = b"HTTP/1.1 200 OK\r\nlambda-runtime-aws-request-id: ".to_vec();
                head.extend_from_slice(&id);
                head.extend_from_slice(b"\r\nx: a\r\n b\r\n\r\n");
                Reply::Unreadable(head)
            }),
            prop::collection::vec(any::<u8>(), 0..100).prop_map(Reply::Unreadable),
        ],
    ]
}

fn host_move() -> impl Strategy<Value = HostMove> {
    prop::sample::select(vec![
        HostMove::Respond,
        HostMove::Respond,
        HostMove::RespondError,
        HostMove::RespondStreaming,
        HostMove::AnswerTwice,
        HostMove::SubscribeFirst,
        HostMove::InitError,
        HostMove::ExitError,
    ])
}

fn to_response(reply: &Reply) -> Option<http::Response<Bytes>> {
    let Reply::Answer { status, headers, body } = reply else { return None };
    let mut response = http::Response::new(Bytes::from(body.clone()));
    *response.status_mut() = http::StatusCode::from_u16(*status).unwrap();
    for (name, value) in headers {
        if let Ok(value) = http::HeaderValue::from_bytes(value) {
            response.headers_mut().append(*name, value);
        }
    }
    Some(response)
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_retries: 2,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(2),
    }
}

/// Runs one hostile session against a runtime machine, checking the
/// properties after every step.
fn runtime_session(max: u16, replies: &[Reply], moves: &[HostMove]) {
    let mode = if max == 1 { Mode::Classic } else { Mode::Concurrent { max: NonZeroU16::new(max).unwrap() } };
    let config = RuntimeConfig {
        address: ApiAddress::parse(ADDRESS).unwrap(),
        mode,
        retry: fast_retry(),
        pipelining: false,
        trace_id_env: true,
    };
    let mut machine = RuntimeMachine::new(config);
    // Deliveries that are open: handed to the host and not yet closed by an
    // accepted or refused answer.
    let mut open: HashSet<RequestId> = HashSet::new();
    let mut exited = false;
    let mut moves = moves.iter().cycle();
    let mut replies = replies.iter();
    for _ in 0..replies.len() * 2 {
        while let Some(event) = machine.poll_event() {
            assert!(!exited, "no event after Exit");
            match event {
                RuntimeEvent::Invoke(inv) => {
                    assert!(
                        open.insert(inv.request_id.clone()),
                        "delivered while open: {:?}",
                        inv.request_id
                    );
                    let id = &inv.request_id;
                    match moves.next().unwrap() {
                        HostMove::RespondError | HostMove::InitError | HostMove::ExitError => {
                            machine.respond_error(id, ErrorReport::new("E", "m")).unwrap()
                        }
                        HostMove::RespondStreaming => {
                            machine.respond_streaming(id, None).unwrap();
                        }
                        HostMove::AnswerTwice => {
                            machine.respond(id, Bytes::from_static(b"1")).unwrap();
                            let again = machine.respond(id, Bytes::from_static(b"2")).unwrap_err();
                            assert!(!again.is_fatal());
                        }
                        HostMove::Respond | HostMove::SubscribeFirst => {
                            machine.respond(id, Bytes::new()).unwrap()
                        }
                    }
                }
                RuntimeEvent::Answered { request_id } | RuntimeEvent::StreamLost { request_id, .. } => {
                    assert!(open.remove(&request_id), "closed a delivery that was not open");
                }
                RuntimeEvent::Rejected { request_id, replaced, .. } => {
                    if !replaced {
                        assert!(open.remove(&request_id), "closed a delivery that was not open");
                    }
                }
                // Unreadable: the machine reports it itself; it is open until answered.
                RuntimeEvent::InvocationUnreadable { request_id, .. } => {
                    assert!(open.insert(request_id.clone()), "delivered while open: {request_id:?}");
                }
                RuntimeEvent::Exit(_) => exited = true,
            }
        }
        if let Some(due) = machine.poll_timeout() {
            // Wake up early first (a no-op), then on time.
            machine.handle_timeout(due - Duration::from_micros(1));
            machine.handle_timeout(due);
        }
        let Some(out) = machine.poll_request() else {
            if exited {
                assert!(machine.exit_reason().is_some());
                assert!(machine.respond(&RequestId::new("r1").unwrap(), Bytes::new()).is_err());
                assert!(machine
                    .handle_response(Token(0), to_response(&Reply::Fail).unwrap_or_default())
                    .is_err());
            }
            if exited || machine.poll_timeout().is_none() {
                return;
            }
            continue;
        };
        assert!(!exited, "request after exit");
        match parse_call(&out.request, "") {
            ParsedCall::RuntimeNext => {}
            ParsedCall::Response { id, .. } | ParsedCall::InvocationError { id, .. } => {
                assert!(open.contains(&RequestId::new(&id).unwrap()), "answer for {id}, which is not open");
            }
            other => panic!("unexpected call {other:?}"),
        }
        let Some(reply) = replies.next() else { return };
        let result = match (to_response(reply), reply) {
            (Some(response), _) => machine.handle_response(out.token, response),
            (None, Reply::Unreadable(head)) => machine.handle_transport_error(
                out.token,
                TransportError::new(TransportErrorKind::MalformedResponse, "x")
                    .with_head(head.clone().into()),
                Instant::now(),
            ),
            (None, _) => {
                let reset = TransportError::new(TransportErrorKind::Reset, "x");
                machine.handle_transport_error(out.token, reset, Instant::now())
            }
        };
        if let Err(error) = result {
            assert!(error.is_fatal(), "a platform answer is never misuse: {error:?}");
            assert!(machine.exit_reason().is_some());
        }
    }
}

/// Runs one hostile session against an extension machine.
fn extension_session(replies: &[Reply], moves: &[HostMove]) {
    // The host takes part in init (subscribe, init error), so the machine
    // hands init over to it.
    let config = ExtensionConfig {
        retry: fast_retry(),
        auto_ready: false,
        ..ExtensionConfig::new(
            ApiAddress::parse(ADDRESS).unwrap(),
            ExtensionName::new("ext").unwrap(),
            &[EventType::Invoke, EventType::Shutdown],
        )
    };
    let mut machine = ExtensionMachine::new(config);
    let mut issued: Option<String> = None;
    let mut exited = false;
    let mut moves = moves.iter().cycle();
    let mut replies = replies.iter();
    loop {
        while let Some(event) = machine.poll_event() {
            assert!(!exited, "no event after Exit");
            let host = *moves.next().unwrap();
            match event {
                ExtensionEvent::Registered(_) => {
                    issued = machine.extension_id().map(ToString::to_string);
                    assert!(issued.is_some());
                    match host {
                        HostMove::SubscribeFirst => machine.subscribe(subscription()).unwrap(),
                        HostMove::InitError => {
                            machine.init_error(ErrorReport::new("Extension.X", "m")).unwrap()
                        }
                        _ => machine.ready().unwrap(),
                    }
                }
                ExtensionEvent::SubscriptionRejected(_) => match host {
                    HostMove::InitError => machine.done(Err(ErrorReport::new("Extension.X", "m"))).unwrap(),
                    _ => machine.done(Ok(())).unwrap(),
                },
                ExtensionEvent::EventsUnavailable(_) => {}
                ExtensionEvent::Invoke(_) => match host {
                    HostMove::ExitError => machine.exit_error(ErrorReport::new("Extension.X", "m")).unwrap(),
                    _ => machine.event_done().unwrap(),
                },
                ExtensionEvent::Shutdown(_) => {
                    assert!(machine.event_done().is_err());
                    match host {
                        HostMove::ExitError => {
                            machine.exit_error(ErrorReport::new("Extension.X", "m")).unwrap()
                        }
                        _ => machine.exit().unwrap(),
                    }
                }
                ExtensionEvent::Exit(_) => exited = true,
            }
        }
        if let Some(due) = machine.poll_timeout() {
            // Wake up early first (a no-op), then on time.
            machine.handle_timeout(due - Duration::from_micros(1));
            machine.handle_timeout(due);
        }
        let Some(out) = machine.poll_request() else {
            if exited {
                assert!(machine.ready().is_err());
                assert!(machine.exit().is_err());
            }
            return;
        };
        assert!(!exited, "request after exit");
        match parse_call(&out.request, "") {
            ParsedCall::Register { .. } => assert!(issued.is_none(), "register twice"),
            ParsedCall::EventNext { extension_id }
            | ParsedCall::Subscribe { extension_id, .. }
            | ParsedCall::ExtensionInitError { extension_id, .. }
            | ParsedCall::ExtensionExitError { extension_id, .. } => {
                assert_eq!(Some(extension_id), issued.clone(), "an identifier the platform did not issue");
            }
            other => panic!("unexpected call {other:?}"),
        }
        let Some(reply) = replies.next() else { return };
        let result = match (to_response(reply), reply) {
            (Some(response), _) => machine.handle_response(out.token, response),
            (None, Reply::Unreadable(head)) => machine.handle_transport_error(
                out.token,
                TransportError::new(TransportErrorKind::MalformedResponse, "x")
                    .with_head(head.clone().into()),
                Instant::now(),
            ),
            (None, _) => {
                let reset = TransportError::new(TransportErrorKind::Reset, "x");
                machine.handle_transport_error(out.token, reset, Instant::now())
            }
        };
        if let Err(error) = result {
            assert!(error.is_fatal(), "a platform answer is never misuse: {error:?}");
        }
    }
}

fn subscription() -> Subscription {
    Subscription::new(
        SubscriptionApi::Telemetry,
        &[RecordCategory::Platform],
        Buffering::default(),
        "http://h:1/",
    )
    .unwrap()
}

proptest! {
    // 512 cases by default; PROPTEST_CASES asks for more.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(512),
        ..ProptestConfig::default()
    })]

    #[test]
    fn runtime_survives_any_platform(
        max in 1u16..=3,
        replies in prop::collection::vec(reply(), 1..60),
        moves in prop::collection::vec(host_move(), 1..8),
    ) {
        runtime_session(max, &replies, &moves);
    }

    #[test]
    fn extension_survives_any_platform(
        replies in prop::collection::vec(reply(), 1..60),
        moves in prop::collection::vec(host_move(), 1..8),
    ) {
        extension_session(&replies, &moves);
    }
}
