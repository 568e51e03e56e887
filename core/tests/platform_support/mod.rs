//! Helpers the platform machine's tests share: a platform, invocations,
//! and calls answered at once.

#![allow(dead_code, clippy::unwrap_used)]

use bytes::Bytes;
use lambda_sansio::extension::{requests as ext, EventType};
use lambda_sansio::platform::{ConnId, NewInvocation, PlatformConfig, PlatformEvent, PlatformMachine};
use lambda_sansio::runtime::{requests as rt, Mode};
use lambda_sansio::{ApiAddress, DeadlineMs, ExtensionId, ExtensionName, InvocationId, RequestId};

pub(crate) fn addr() -> ApiAddress {
    ApiAddress::parse("127.0.0.1:9001").unwrap()
}

pub(crate) fn platform(mode: Mode) -> PlatformMachine {
    PlatformMachine::new(PlatformConfig {
        mode,
        external_extensions: vec!["ext-a".into(), "ext-b".into()],
        account_id: "123456789012".into(),
        ..PlatformConfig::new("fn")
    })
}

pub(crate) fn invocation(id: &str, nonce: Option<&str>) -> NewInvocation {
    NewInvocation {
        request_id: RequestId::new(id).unwrap(),
        payload: Bytes::from_static(b"{}"),
        deadline: DeadlineMs(99),
        invoked_function_arn: "arn:f".into(),
        trace_id: Some("Root=1".into()),
        client_context: None,
        cognito_identity: None,
        tenant_id: None,
        invocation_id: nonce.map(|n| InvocationId::new(n).unwrap()),
    }
}

/// Sends `request` on `conn` and returns the answer, if one came at once.
pub(crate) fn call(
    p: &mut PlatformMachine,
    conn: u64,
    request: http::Request<Bytes>,
) -> Option<http::Response<Bytes>> {
    p.handle_request(ConnId(conn), &request);
    let answer = p.poll_response();
    if let Some((c, _)) = &answer {
        assert_eq!(*c, ConnId(conn));
    }
    answer.map(|(_, r)| r)
}

pub(crate) fn error_type(response: &http::Response<Bytes>) -> String {
    let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
    body["errorType"].as_str().unwrap().to_owned()
}

pub(crate) fn register(p: &mut PlatformMachine, name: &str, events: &[EventType]) -> http::Response<Bytes> {
    let name = ExtensionName::new(name).unwrap();
    call(p, 90, ext::register(&addr(), &name, events, true).unwrap()).unwrap()
}

pub(crate) fn ext_id(response: &http::Response<Bytes>) -> ExtensionId {
    ExtensionId::from_bytes(response.headers()["lambda-extension-identifier"].as_bytes()).unwrap()
}

pub(crate) fn events(p: &mut PlatformMachine) -> Vec<PlatformEvent> {
    std::iter::from_fn(|| p.poll_event()).collect()
}

/// The events without `InvocationEnded` (whether the environment may
/// freeze yet depends on the extensions, not on the answer).
pub(crate) fn answers_recorded(p: &mut PlatformMachine) -> Vec<PlatformEvent> {
    events(p).into_iter().filter(|e| !matches!(e, PlatformEvent::InvocationEnded { .. })).collect()
}

pub(crate) fn running_with_invocation(nonce: Option<&str>) -> PlatformMachine {
    let mut p = platform(Mode::Classic);
    p.invoke(invocation("r1", nonce)).unwrap();
    assert_eq!(call(&mut p, 1, rt::next(&addr()).unwrap()).unwrap().status(), 200);
    events(&mut p);
    p
}

pub(crate) fn answer(
    p: &mut PlatformMachine,
    id: &str,
    nonce: Option<&str>,
    body: Bytes,
) -> http::Response<Bytes> {
    let nonce = nonce.map(|n| InvocationId::new(n).unwrap());
    call(p, 3, rt::response(&addr(), &RequestId::new(id).unwrap(), nonce.as_ref(), body, None).unwrap())
        .unwrap()
}
