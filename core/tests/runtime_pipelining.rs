//! The runtime machine with `RuntimeConfig::pipelining`: which answers get a
//! `next` behind them, in what order the outcomes must come back, and what
//! becomes of the `next` when the connection fails or the server closes.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use lambda_sansio::runtime::{
    ExitReason, Mode, RuntimeConfig, RuntimeError, RuntimeEvent, RuntimeMachine, PIPELINED_MAX_BODY,
};
use lambda_sansio::{
    ApiAddress, BodyMode, Call, ErrorReport, Outbound, RequestId, RetryPolicy, Token, TransportError,
    TransportErrorKind,
};
use support::{answer, error_answer, invocation, ADDRESS};

fn machine(pipelining: bool) -> RuntimeMachine {
    RuntimeMachine::new(RuntimeConfig {
        address: ApiAddress::parse(ADDRESS).unwrap(),
        mode: Mode::Classic,
        retry: RetryPolicy {
            max_retries: 2,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(15),
        },
        pipelining,
        trace_id_env: true,
    })
}

fn id(text: &str) -> RequestId {
    RequestId::new(text).unwrap()
}

/// Polls `next`, hands back invocation `request_id`, and takes the event.
fn invoked(machine: &mut RuntimeMachine, request_id: &str) {
    let out = machine.poll_request().expect("next");
    assert_eq!(out.call, Call::RuntimeNext);
    machine.handle_response(out.token, invocation(request_id, "{}")).unwrap();
    assert!(matches!(machine.poll_event(), Some(RuntimeEvent::Invoke(_))));
}

/// The answer, then the `next` pipelined behind it on the same token.
fn answer_and_next(machine: &mut RuntimeMachine) -> (Outbound, Outbound) {
    let first = machine.poll_request().expect("the answer");
    assert_ne!(first.call, Call::RuntimeNext);
    let next = machine.poll_request().expect("a next pipelined behind the answer");
    assert_eq!((next.call, next.token, next.body), (Call::RuntimeNext, first.token, BodyMode::Buffered));
    assert_eq!(next.request_id, None);
    assert!(machine.poll_request().is_none(), "at most two requests on a token");
    (first, next)
}

fn reset() -> TransportError {
    TransportError::new(TransportErrorKind::Reset, "test")
}

#[test]
fn off_by_default_and_off_means_one_request_per_token() {
    let config = RuntimeConfig::new(ApiAddress::parse(ADDRESS).unwrap());
    assert!(!config.pipelining);
    let mut machine = machine(false);
    invoked(&mut machine, "r1");
    machine.respond(&id("r1"), Bytes::from_static(b"ok")).unwrap();
    assert_eq!(machine.poll_request().unwrap().call, Call::RuntimeResponse);
    assert!(machine.poll_request().is_none());
}

#[test]
fn a_buffered_response_and_an_error_report_get_a_next_behind_them_whose_answer_is_the_next_invocation() {
    let mut machine = machine(true);
    invoked(&mut machine, "r1");
    machine.respond(&id("r1"), Bytes::from_static(b"ok")).unwrap();
    let (first, next) = answer_and_next(&mut machine);
    machine.handle_response(first.token, answer(202, &[], "")).unwrap();
    assert_eq!(machine.poll_event(), Some(RuntimeEvent::Answered { request_id: id("r1") }));
    assert!(machine.poll_request().is_none(), "the pipelined next is the next");
    machine.handle_response(next.token, invocation("r2", "{}")).unwrap();
    assert!(matches!(machine.poll_event(), Some(RuntimeEvent::Invoke(i)) if i.request_id == id("r2")));
    machine.respond_error(&id("r2"), ErrorReport::new("Function.Bad", "no")).unwrap();
    let (first, _) = answer_and_next(&mut machine);
    assert_eq!(first.call, Call::RuntimeError);
    assert_eq!(machine.respond(&id("r2"), Bytes::new()), Err(RuntimeError::AlreadyAnswered(id("r2"))));
}

#[test]
fn streamed_and_large_answers_and_init_errors_go_alone() {
    let mut machine = machine(true);
    invoked(&mut machine, "r1");
    machine.respond_streaming(&id("r1"), None).unwrap();
    assert_eq!(machine.poll_request().unwrap().body, BodyMode::Streamed);
    assert!(machine.poll_request().is_none(), "a streamed answer closes its connection");

    let mut machine = machine_with_answer_of(PIPELINED_MAX_BODY + 1);
    assert_eq!(machine.poll_request().unwrap().call, Call::RuntimeResponse);
    assert!(machine.poll_request().is_none(), "a large body may be refused unread");
    let mut machine = machine_with_answer_of(PIPELINED_MAX_BODY);
    answer_and_next(&mut machine);

    let config =
        RuntimeConfig { pipelining: true, ..RuntimeConfig::new(ApiAddress::parse(ADDRESS).unwrap()) };
    let mut failed = RuntimeMachine::init_failed(config, ErrorReport::new("Runtime.Init", "no"));
    assert_eq!(failed.poll_request().unwrap().call, Call::RuntimeInitError);
    assert!(failed.poll_request().is_none());
}

fn machine_with_answer_of(size: usize) -> RuntimeMachine {
    let mut machine = machine(true);
    invoked(&mut machine, "r1");
    machine.respond(&id("r1"), Bytes::from(vec![b'x'; size])).unwrap();
    machine
}

#[test]
fn every_non_fatal_refusal_leads_to_the_pipelined_next() {
    for status in [400, 404, 410, 413, 429] {
        let mut machine = machine(true);
        invoked(&mut machine, "r1");
        machine.respond(&id("r1"), Bytes::from_static(b"ok")).unwrap();
        let (first, next) = answer_and_next(&mut machine);
        machine.handle_response(first.token, error_answer(status, "Refused")).unwrap();
        assert!(matches!(machine.poll_event(), Some(RuntimeEvent::Rejected { replaced: false, .. })));
        assert!(machine.poll_request().is_none(), "{status}: no second next");
        machine.handle_response(next.token, invocation("r2", "{}")).unwrap();
        assert!(matches!(machine.poll_event(), Some(RuntimeEvent::Invoke(_))), "{status}");
    }
}

#[test]
fn a_fatal_status_on_the_answer_stops_the_machine_and_the_next_behind_it_changes_nothing() {
    let mut machine = machine(true);
    invoked(&mut machine, "r1");
    machine.respond(&id("r1"), Bytes::from_static(b"ok")).unwrap();
    let (first, next) = answer_and_next(&mut machine);
    let error = machine.handle_response(first.token, error_answer(500, "ServiceException")).unwrap_err();
    assert!(error.is_fatal());
    assert_eq!(machine.handle_response(next.token, invocation("r2", "{}")), Err(error.clone()));
    assert_eq!(machine.poll_event(), Some(RuntimeEvent::Exit(ExitReason::Fatal(error))));
    assert_eq!(machine.poll_event(), None, "the invocation behind a fatal answer is not handed out");
}

#[test]
fn a_connection_lost_before_the_answer_takes_the_next_with_it_and_the_retry_is_followed_again() {
    let mut machine = machine(true);
    invoked(&mut machine, "r1");
    machine.respond(&id("r1"), Bytes::from_static(b"ok")).unwrap();
    let (first, _) = answer_and_next(&mut machine);
    let now = Instant::now();
    machine.handle_transport_error(first.token, reset(), now).unwrap();
    assert!(machine.poll_request().is_none(), "backing off");
    let due = machine.poll_timeout().expect("a back-off");
    machine.handle_timeout(due);
    let (again, next) = answer_and_next(&mut machine);
    assert_eq!(again.request_id, Some(id("r1")));
    machine.handle_response(again.token, answer(202, &[], "")).unwrap();
    machine.handle_response(next.token, invocation("r2", "{}")).unwrap();
    assert_eq!(machine.poll_event(), Some(RuntimeEvent::Answered { request_id: id("r1") }));
    assert!(matches!(machine.poll_event(), Some(RuntimeEvent::Invoke(_))));
}

#[test]
fn a_connection_lost_during_the_next_retries_the_next_alone() {
    let mut machine = machine(true);
    invoked(&mut machine, "r1");
    machine.respond(&id("r1"), Bytes::from_static(b"ok")).unwrap();
    let (first, next) = answer_and_next(&mut machine);
    machine.handle_response(first.token, answer(202, &[], "")).unwrap();
    machine.handle_transport_error(next.token, reset(), Instant::now()).unwrap();
    let due = machine.poll_timeout().expect("a back-off");
    machine.handle_timeout(due);
    assert_eq!(machine.poll_request().unwrap().call, Call::RuntimeNext);
}

#[test]
fn a_next_the_server_never_read_is_queued_again_at_once_without_counting_a_failure() {
    let mut machine = machine(true);
    invoked(&mut machine, "r1");
    for round in 0..5 {
        machine.respond(&id(&format!("r{}", round + 1)), Bytes::from_static(b"ok")).unwrap();
        let (first, next) = answer_and_next(&mut machine);
        machine.handle_response(first.token, answer(202, &[("connection", "close")], "")).unwrap();
        machine.handle_not_served(next.token).unwrap();
        assert_eq!(machine.poll_timeout(), None, "no back-off");
        let again = machine.poll_request().expect("the next again");
        assert_eq!((again.call, again.token), (Call::RuntimeNext, next.token));
        machine.handle_response(again.token, invocation(&format!("r{}", round + 2), "{}")).unwrap();
        assert!(matches!(machine.poll_event(), Some(RuntimeEvent::Answered { .. })));
        assert!(matches!(machine.poll_event(), Some(RuntimeEvent::Invoke(_))));
    }
}

#[test]
fn not_served_is_refused_for_anything_but_a_next_in_flight() {
    let mut machine = machine(true);
    let queued = machine.handle_not_served(Token(0));
    assert_eq!(queued, Err(RuntimeError::UnexpectedResponse(Token(0))), "a next not sent yet");
    invoked(&mut machine, "r1");
    machine.respond(&id("r1"), Bytes::from_static(b"ok")).unwrap();
    let (first, _) = answer_and_next(&mut machine);
    assert_eq!(machine.handle_not_served(first.token), Err(RuntimeError::UnexpectedResponse(first.token)));
    assert_eq!(machine.handle_not_served(Token(7)), Err(RuntimeError::UnexpectedResponse(Token(7))));
}

#[test]
fn concurrent_slots_pipeline_each_on_their_own_token() {
    let mut machine = RuntimeMachine::new(RuntimeConfig {
        mode: Mode::from_max_concurrency(Some("2")).unwrap(),
        pipelining: true,
        ..RuntimeConfig::new(ApiAddress::parse(ADDRESS).unwrap())
    });
    let a = machine.poll_request().unwrap();
    let b = machine.poll_request().unwrap();
    machine.handle_response(a.token, invocation("r1", "{}")).unwrap();
    machine.handle_response(b.token, invocation("r2", "{}")).unwrap();
    machine.respond(&id("r2"), Bytes::new()).unwrap();
    machine.respond(&id("r1"), Bytes::new()).unwrap();
    let tokens: Vec<(Call, Token)> =
        std::iter::from_fn(|| machine.poll_request()).map(|out| (out.call, out.token)).collect();
    assert_eq!(
        tokens,
        [
            (Call::RuntimeResponse, a.token),
            (Call::RuntimeNext, a.token),
            (Call::RuntimeResponse, b.token),
            (Call::RuntimeNext, b.token)
        ]
    );
}

#[test]
fn poll_pipelined_hands_over_the_next_behind_the_answer_just_taken_and_nothing_else() {
    let mut machine = RuntimeMachine::new(RuntimeConfig {
        mode: Mode::from_max_concurrency(Some("2")).unwrap(),
        pipelining: true,
        ..RuntimeConfig::new(ApiAddress::parse(ADDRESS).unwrap())
    });
    let (a, b) = (machine.poll_request().unwrap(), machine.poll_request().unwrap());
    assert!(machine.poll_pipelined(&a).is_none(), "nothing behind a next");
    machine.handle_response(a.token, invocation("r1", "{}")).unwrap();
    machine.handle_response(b.token, invocation("r2", "{}")).unwrap();
    machine.respond(&id("r1"), Bytes::new()).unwrap();
    machine.respond(&id("r2"), Bytes::new()).unwrap();
    for token in [a.token, b.token] {
        let answer = machine.poll_request().unwrap();
        assert_eq!((answer.call, answer.token), (Call::RuntimeResponse, token));
        let next = machine.poll_pipelined(&answer).expect("a next behind the answer");
        assert_eq!((next.call, next.token, next.request_id), (Call::RuntimeNext, token, None));
        assert!(machine.poll_pipelined(&answer).is_none(), "one next per answer");
    }
    assert!(machine.poll_request().is_none());

    for mut alone in [machine_with_answer_of(PIPELINED_MAX_BODY + 1), {
        let mut off = self::machine(false);
        invoked(&mut off, "r1");
        off.respond(&id("r1"), Bytes::new()).unwrap();
        off
    }] {
        let answer = alone.poll_request().unwrap();
        assert!(alone.poll_pipelined(&answer).is_none(), "a large answer, or pipelining off: alone");
    }
}
