//! Fuzz entry points, shared by the cargo-fuzz targets (nightly) and the
//! corpus replay test (stable). Each takes arbitrary bytes and panics only
//! when an invariant breaks.
//!
//! Structured inputs use a small text framing so that a corpus stays
//! readable: `name: value` header lines, a blank line, then the body.

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, StatusCode};

use super::config::{Faults, Hosts, SimConfig};
use super::properties_impl::{properties, Kind};
use super::world::{Action, World};
use crate::extension::{EventType, ExtensionConfig, ExtensionMachine, LifecycleEvent};
use crate::platform::{ConnId, PlatformConfig, PlatformMachine};
use crate::runtime::{requests, Invocation, Mode, RuntimeConfig, RuntimeEvent, RuntimeMachine};
use crate::telemetry::{decode_batch, encode_batch, Subscription, SubscriptionApi};
use crate::{ApiAddress, ExtensionName, ServerError};

/// Splits `data` into `(first line, headers, body)` using the framing above.
fn frame(data: &[u8]) -> (&[u8], Vec<(HeaderName, HeaderValue)>, Bytes) {
    let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(at) => (&data[..at], &data[at + 2..]),
        None => (data, &b""[..]),
    };
    let mut lines = head.split(|&b| b == b'\n');
    let first = lines.next().unwrap_or_default();
    let headers = lines
        .filter_map(|line| {
            let colon = line.iter().position(|&b| b == b':')?;
            let name = HeaderName::from_bytes(&line[..colon]).ok()?;
            let value = HeaderValue::from_bytes(line[colon + 1..].trim_ascii()).ok()?;
            Some((name, value))
        })
        .collect();
    (first, headers, Bytes::copy_from_slice(body))
}

fn response(status: u16, headers: Vec<(HeaderName, HeaderValue)>, body: Bytes) -> http::Response<Bytes> {
    let mut response = http::Response::new(body);
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    for (name, value) in headers {
        response.headers_mut().append(name, value);
    }
    response
}

fn status_of(line: &[u8]) -> u16 {
    std::str::from_utf8(line).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(200)
}

fn address() -> ApiAddress {
    ApiAddress::parse("127.0.0.1:9001").expect("constant address")
}

/// A `next` answer: decode it directly and through the runtime machine. A
/// decoded invocation must be answerable.
pub fn next_response(data: &[u8]) {
    let (first, headers, body) = frame(data);
    let answer = response(status_of(first), headers, body);
    let decoded = Invocation::decode(&answer);
    if let Ok(invocation) = &decoded {
        let request = requests::response(
            &address(),
            &invocation.request_id,
            invocation.invocation_id.as_ref(),
            invocation.payload.clone(),
            None,
        );
        assert!(request.is_ok(), "a decoded invocation must be answerable");
    }
    let mut machine = RuntimeMachine::new(RuntimeConfig::new(address()));
    let Some(out) = machine.poll_request() else { panic!("a new runtime polls next") };
    let result = machine.handle_response(out.token, answer);
    match machine.poll_event() {
        Some(RuntimeEvent::Invoke(invocation)) => {
            assert!(result.is_ok() && decoded.is_ok());
            assert!(machine.respond(&invocation.request_id, Bytes::new()).is_ok());
            assert!(machine.poll_request().is_some());
        }
        Some(RuntimeEvent::Exit(_)) => {
            assert!(result.is_err());
            assert!(machine.poll_request().is_none());
        }
        other => panic!("unexpected event {other:?}"),
    }
}

fn extension_machine() -> ExtensionMachine {
    let name = ExtensionName::new("fuzz").expect("constant name");
    ExtensionMachine::new(ExtensionConfig::new(address(), name, &[EventType::Invoke, EventType::Shutdown]))
}

/// A register answer, through the extension machine.
pub fn register_response(data: &[u8]) {
    let (first, headers, body) = frame(data);
    let mut machine = extension_machine();
    let Some(out) = machine.poll_request() else { panic!("a new extension registers") };
    let result = machine.handle_response(out.token, response(status_of(first), headers, body));
    assert_eq!(result.is_ok(), machine.extension_id().is_some());
    if result.is_ok() {
        // Registered: the machine finishes init by itself.
        let next = machine.poll_request().map(|out| out.call);
        assert_eq!(next, Some(crate::Call::ExtensionNext));
    } else {
        assert!(machine.poll_request().is_none());
    }
}

/// An event body: decoded directly and delivered to a ready extension.
pub fn extension_event(data: &[u8]) {
    let body = Bytes::copy_from_slice(data);
    let decoded = LifecycleEvent::decode(&body);
    let mut machine = extension_machine();
    let ok = |status| {
        response(
            status,
            vec![(crate::headers::EXTENSION_IDENTIFIER, HeaderValue::from_static("id"))],
            Bytes::new(),
        )
    };
    let Some(register) = machine.poll_request() else { panic!("registers") };
    assert!(machine.handle_response(register.token, ok(200)).is_ok());
    let Some(next) = machine.poll_request() else { panic!("polls") };
    let result = machine.handle_response(next.token, response(200, Vec::new(), body));
    assert_eq!(result.is_ok(), decoded.is_ok());
}

/// An error body of a 4xx/5xx answer.
pub fn error_body(data: &[u8]) {
    let error = ServerError::from_body(data);
    if let Some(message) = &error.error_message {
        assert!(error.error_type.is_some() || message.len() <= ServerError::MAX_MESSAGE * 3);
    }
}

/// A telemetry batch: whatever decodes re-encodes to the same records.
pub fn telemetry_batch(data: &[u8]) {
    if let Ok(batch) = decode_batch(data) {
        let again = decode_batch(&encode_batch(&batch));
        assert!(again.is_ok_and(|again| again == batch), "a decoded batch round-trips");
    }
}

/// A subscription body, as the platform reads it: what decodes re-encodes
/// to the same subscription.
pub fn subscription(data: &[u8]) {
    for api in [SubscriptionApi::Telemetry, SubscriptionApi::Logs] {
        if let Ok(sub) = Subscription::decode(api, data) {
            assert_eq!(Subscription::decode(api, &sub.to_body()), Ok(sub));
        }
    }
}

/// An arbitrary request to the platform, in each phase of its lifecycle:
/// it answers with at most one response per request, never panics.
pub fn platform_request(data: &[u8]) {
    let (first, headers, body) = frame(data);
    let mut line = first.splitn(2, |&b| b == b' ');
    let method = Method::from_bytes(line.next().unwrap_or_default()).unwrap_or(Method::GET);
    let path = std::str::from_utf8(line.next().unwrap_or_default()).unwrap_or("/");
    let Ok(uri) = path.parse::<http::Uri>() else { return };
    let mut request = http::Request::new(body);
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    for (name, value) in headers {
        request.headers_mut().append(name, value);
    }
    for mode in [Mode::Classic, Mode::Concurrent { max: std::num::NonZeroU16::MIN.saturating_add(1) }] {
        let config =
            PlatformConfig { mode, external_extensions: vec!["ext".into()], ..PlatformConfig::new("fuzz") };
        let mut platform = PlatformMachine::new(config);
        for conn in 0..3 {
            platform.handle_request(ConnId(conn), &request);
            let answers =
                std::iter::from_fn(|| platform.poll_response()).filter(|(c, _)| *c == ConnId(conn)).count();
            assert!(answers <= 1, "one answer per request");
            while platform.poll_event().is_some() {}
        }
    }
}

/// Walks the composed model: the first bytes pick a configuration, each
/// further byte picks one of the possible actions. Every "always" property
/// is checked after every step.
pub fn sim(data: &[u8]) {
    let [shape, faults, rest @ ..] = data else { return };
    let mode = if shape & 1 == 0 {
        Mode::Classic
    } else {
        Mode::Concurrent { max: std::num::NonZeroU16::MIN.saturating_add(u16::from(shape >> 6)) }
    };
    let config = SimConfig {
        mode,
        invocations: 1 + (shape >> 1) % 4,
        extensions: (shape >> 3) % 3,
        subscribe: shape & 0x20 != 0,
        forward: shape & 0x20 != 0,
        max_faults: faults % 4,
        faults: Faults::ALL,
        hosts: hosts_from(faults >> 2),
        bug: None,
    };
    let Some(mut world) = World::new(&config) else { return };
    let mut actions: Vec<Action> = Vec::new();
    for &choice in rest {
        actions.clear();
        world.actions(&config, &mut actions);
        if actions.is_empty() {
            break;
        }
        let action = actions[usize::from(choice) % actions.len()].clone();
        assert!(world.step(&config, &action));
        for property in properties().iter().filter(|p| p.kind == Kind::Always) {
            assert!(
                (property.holds)(&config, &world),
                "{} violated after {action:?}: {world:?}",
                property.name
            );
        }
    }
}

/// Host behaviours picked by the bits of `bits`.
fn hosts_from(bits: u8) -> Hosts {
    let on = |bit: u8| bits & (1 << bit) != 0;
    Hosts {
        streaming: on(0),
        oversized_response: on(1),
        answer_twice: on(2),
        extension_exit_error: on(3),
        invoke_only_extension: on(4),
        runtime_init_error: on(5) && on(0),
        extension_init_error: on(5) && !on(0),
        refused_subscription: false,
        pipelining: on(6),
    }
}

/// A fuzz entry point.
pub type Target = fn(&[u8]);

/// Every target by name, for the corpus replay.
pub const TARGETS: &[(&str, Target)] = &[
    ("next_response", next_response),
    ("register_response", register_response),
    ("extension_event", extension_event),
    ("error_body", error_body),
    ("telemetry_batch", telemetry_batch),
    ("subscription", subscription),
    ("platform_request", platform_request),
    ("sim", sim),
    #[cfg(feature = "http")]
    ("http_event", super::fuzz_http::http_event),
    #[cfg(feature = "http1")]
    ("http1_response", crate::http1::fuzz::response_decoder),
    #[cfg(feature = "http1")]
    ("http1_request", crate::http1::fuzz::request_decoder),
];
