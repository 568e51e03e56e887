//! The platform's limits and routing edges, exactly at their boundaries.

#![allow(clippy::unwrap_used)]

mod platform_support;

use bytes::Bytes;
use lambda_sansio::extension::ShutdownReason;
use lambda_sansio::platform::{
    body_read_limit, ConnId, Outcome, PlatformConfig, PlatformEvent, PlatformMachine, MAX_STREAMED_RESPONSE,
};
use lambda_sansio::runtime::requests::{self as rt, MAX_BUFFERED_RESPONSE};
use lambda_sansio::{DeadlineMs, ErrorReport, RequestId};
use platform_support::*;

fn outcome(p: &mut PlatformMachine) -> Outcome {
    std::iter::from_fn(|| p.poll_event())
        .find_map(|e| match e {
            PlatformEvent::InvocationCompleted { outcome, .. } => Some(outcome),
            _ => None,
        })
        .unwrap()
}

#[test]
fn a_buffered_response_of_exactly_the_limit_is_taken_and_one_byte_more_is_not() {
    let id = RequestId::new("r1").unwrap();
    let mut p = running_with_invocation(None);
    let at_limit = Bytes::from(vec![b'a'; MAX_BUFFERED_RESPONSE]);
    assert_eq!(
        call(&mut p, 2, rt::response(&addr(), &id, None, at_limit, None).unwrap()).unwrap().status(),
        202
    );
    let mut p = running_with_invocation(None);
    let over = Bytes::from(vec![b'a'; MAX_BUFFERED_RESPONSE + 1]);
    assert_eq!(call(&mut p, 2, rt::response(&addr(), &id, None, over, None).unwrap()).unwrap().status(), 413);
}

#[test]
fn the_read_limits_are_200_mb_streamed_and_8_mib_otherwise() {
    assert_eq!(MAX_STREAMED_RESPONSE, 200_000_000);
    let mut headers = http::HeaderMap::new();
    assert_eq!(body_read_limit(&headers), 8 * 1024 * 1024);
    headers.insert("lambda-runtime-function-response-mode", "Streaming".parse().unwrap());
    assert_eq!(body_read_limit(&headers), 200_000_000);
    headers.insert("lambda-runtime-function-response-mode", "buffered".parse().unwrap());
    assert_eq!(body_read_limit(&headers), 8 * 1024 * 1024);
}

#[test]
fn a_buffered_response_with_an_error_type_header_is_still_a_response() {
    let mut p = running_with_invocation(None);
    let mut request =
        rt::response(&addr(), &RequestId::new("r1").unwrap(), None, Bytes::from_static(b"1"), None).unwrap();
    request.headers_mut().insert("lambda-runtime-function-error-type", "Function.X".parse().unwrap());
    assert_eq!(call(&mut p, 2, request).unwrap().status(), 202);
    assert!(matches!(outcome(&mut p), Outcome::Response { .. }));
}

#[test]
fn an_empty_request_id_is_not_a_route() {
    let mut p = running_with_invocation(None);
    for path in ["/2018-06-01/runtime/invocation//response", "/2018-06-01/runtime/invocation//error"] {
        let request = http::Request::post(path).body(Bytes::new()).unwrap();
        assert_eq!(call(&mut p, 2, request).unwrap().status(), 404, "{path}");
    }
}

#[test]
fn the_runtime_reports_an_init_error_once_and_only_during_init() {
    let report = ErrorReport::new("Runtime.Init", "no config");
    let init_error = || rt::init_error(&addr(), &report).unwrap();
    let mut p = PlatformMachine::new(PlatformConfig::new("fn"));
    assert_eq!(call(&mut p, 1, init_error()).unwrap().status(), 202);
    assert_eq!(call(&mut p, 2, init_error()).unwrap().status(), 403, "a second report");
    let mut started = PlatformMachine::new(PlatformConfig::new("fn"));
    started.handle_request(ConnId(1), &rt::next(&addr()).unwrap());
    assert_eq!(call(&mut started, 2, init_error()).unwrap().status(), 403, "after its first next");
    let mut shutting = PlatformMachine::new(PlatformConfig::new("fn"));
    shutting.shutdown(ShutdownReason::Spindown, DeadlineMs(5));
    assert_eq!(call(&mut shutting, 1, init_error()).unwrap().status(), 403, "during shutdown");
}
