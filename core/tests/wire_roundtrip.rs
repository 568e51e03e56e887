//! Every request the wire layer builds reads back, through the independent
//! parser of `support`, as the values it was built from.

#![allow(clippy::unwrap_used)]

mod support;

use bytes::Bytes;
use lambda_sansio::extension::{requests as ext, EventType};
use lambda_sansio::runtime::{requests as rt, Invocation};
use lambda_sansio::telemetry::{Buffering, RecordCategory, Subscription, SubscriptionApi};
use lambda_sansio::{
    ApiAddress, DeadlineMs, ErrorReport, ExtensionId, ExtensionName, InvocationId, RequestId,
};
use proptest::prelude::*;
use support::{parse_call, ParsedCall};

fn request_id() -> impl Strategy<Value = RequestId> {
    "[A-Za-z0-9._~!$&'()*+,;=:@-]{1,80}"
        .prop_filter("dot segments are refused", |s| s != "." && s != "..")
        .prop_map(|s| RequestId::new(&s).unwrap())
}

fn header_token() -> impl Strategy<Value = String> {
    "[!-~]{1,80}"
}

fn address() -> impl Strategy<Value = (ApiAddress, String)> {
    (prop::bool::ANY, 1u16.., prop::option::of("(/[a-z.]{1,6}){1,2}")).prop_map(|(scheme, port, prefix)| {
        let prefix = prefix.unwrap_or_default();
        let raw = format!("{}127.0.0.1:{port}{prefix}", if scheme { "http://" } else { "" });
        (ApiAddress::parse(&raw).unwrap(), prefix)
    })
}

fn report() -> impl Strategy<Value = ErrorReport> {
    (any::<String>(), any::<String>(), prop::collection::vec(any::<String>(), 0..4))
        .prop_map(|(t, m, trace)| ErrorReport::new(t, m).with_stack_trace(trace))
}

fn report_json(report: &ErrorReport) -> serde_json::Value {
    serde_json::json!({
        "errorType": report.error_type,
        "errorMessage": report.error_message,
        "stackTrace": report.stack_trace,
    })
}

/// `(Runtime|Function)\.[A-Z][a-zA-Z]+`, checked by hand.
fn has_platform_error_shape(header: &str) -> bool {
    let Some(name) = header.strip_prefix("Function.").or_else(|| header.strip_prefix("Runtime.")) else {
        return false;
    };
    name.len() >= 2
        && name.as_bytes()[0].is_ascii_uppercase()
        && name.bytes().all(|b| b.is_ascii_alphabetic())
}

proptest! {
    #[test]
    fn response_round_trips(
        (addr, prefix) in address(),
        id in request_id(),
        nonce in prop::option::of(header_token()),
        payload in prop::collection::vec(any::<u8>(), 0..512),
        content_type in prop::option::of("[a-z]{1,12}/[a-z.+-]{1,20}"),
    ) {
        let nonce = nonce.map(|n| InvocationId::new(&n).unwrap());
        let label = content_type.as_deref().map(|t| http::HeaderValue::from_str(t).unwrap());
        let request =
            rt::response(&addr, &id, nonce.as_ref(), Bytes::from(payload.clone()), label.as_ref()).unwrap();
        let sent = request.headers().get(http::header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_owned());
        prop_assert_eq!(sent.as_deref(), Some(content_type.as_deref().unwrap_or("application/octet-stream")));
        prop_assert_eq!(parse_call(&request, &prefix), ParsedCall::Response {
            id: id.to_string(),
            invocation_id: nonce.map(|n| n.to_string()),
            body: Bytes::from(payload),
            streamed: false,
        });
    }

    #[test]
    fn streaming_head_round_trips((addr, prefix) in address(), id in request_id(), nonce in prop::option::of(header_token())) {
        let nonce = nonce.map(|n| InvocationId::new(&n).unwrap());
        let request = rt::streaming_response_head(&addr, &id, nonce.as_ref(), None).unwrap();
        prop_assert_eq!(parse_call(&request, &prefix), ParsedCall::Response {
            id: id.to_string(),
            invocation_id: nonce.map(|n| n.to_string()),
            body: Bytes::new(),
            streamed: true,
        });
    }

    #[test]
    fn error_reports_round_trip((addr, prefix) in address(), id in request_id(), report in report()) {
        let request = rt::error(&addr, &id, None, &report).unwrap();
        let ParsedCall::InvocationError { id: got, error_type, report: body, invocation_id } = parse_call(&request, &prefix)
        else { panic!("not an error report") };
        prop_assert_eq!(got, id.to_string());
        prop_assert_eq!(invocation_id, None);
        prop_assert!(has_platform_error_shape(&error_type), "{}", error_type);
        prop_assert_eq!(body, report_json(&report));

        let request = rt::init_error(&addr, &report).unwrap();
        let ParsedCall::InitError { error_type, report: body } = parse_call(&request, &prefix)
        else { panic!("not an init error") };
        prop_assert!(has_platform_error_shape(&error_type), "{}", error_type);
        prop_assert_eq!(body, report_json(&report));
    }

    #[test]
    fn stream_error_trailers_carry_the_report(report in report()) {
        let trailers = rt::stream_error_trailers(&report);
        let error_type = trailers["lambda-runtime-function-error-type"].to_str().unwrap();
        prop_assert!(has_platform_error_shape(error_type));
        let encoded = trailers["lambda-runtime-function-error-body"].as_bytes();
        prop_assert_eq!(serde_json::from_slice::<serde_json::Value>(&decode_base64(encoded)).unwrap(), report_json(&report));
    }

    #[test]
    fn extension_calls_round_trip(
        (addr, prefix) in address(),
        name in header_token(),
        events in prop::sample::subsequence(vec![EventType::Invoke, EventType::Shutdown], 0..=2),
        account_id in any::<bool>(),
        id in header_token(),
        report in report(),
    ) {
        let name = ExtensionName::new(&name).unwrap();
        let request = ext::register(&addr, &name, &events, account_id).unwrap();
        let wire_events: Vec<String> = events.iter().map(|e| format!("{e:?}").to_uppercase()).collect();
        prop_assert_eq!(parse_call(&request, &prefix), ParsedCall::Register { name: name.to_string(), events: wire_events, account_id });

        let ext_id = ExtensionId::new(&id).unwrap();
        prop_assert_eq!(parse_call(&ext::next(&addr, &ext_id).unwrap(), &prefix), ParsedCall::EventNext { extension_id: id.clone() });
        let ParsedCall::ExtensionInitError { extension_id, error_type, report: body } =
            parse_call(&ext::init_error(&addr, &ext_id, &report).unwrap(), &prefix) else { panic!() };
        prop_assert_eq!(&extension_id, &id);
        prop_assert!(!error_type.is_empty());
        prop_assert_eq!(body, report_json(&report));
        let ParsedCall::ExtensionExitError { extension_id, .. } =
            parse_call(&ext::exit_error(&addr, &ext_id, &report).unwrap(), &prefix) else { panic!() };
        prop_assert_eq!(extension_id, id);
    }

    #[test]
    fn subscriptions_round_trip(
        (addr, prefix) in address(),
        logs in any::<bool>(),
        types in prop::sample::subsequence(vec![RecordCategory::Platform, RecordCategory::Function, RecordCategory::Extension], 1..=3),
        max_items in Buffering::MAX_ITEMS,
        max_bytes in Buffering::MAX_BYTES,
        timeout_ms in Buffering::TIMEOUT_MS,
        port in 1u16..,
    ) {
        let api = if logs { SubscriptionApi::Logs } else { SubscriptionApi::Telemetry };
        let uri = format!("http://sandbox.localdomain:{port}/listener");
        let sub = Subscription::new(api, &types, Buffering { max_items, max_bytes, timeout_ms }, &uri).unwrap();
        let id = ExtensionId::new("ext-1").unwrap();
        let ParsedCall::Subscribe { extension_id, path, body } = parse_call(&sub.request(&addr, &id).unwrap(), &prefix)
        else { panic!() };
        prop_assert_eq!(extension_id, "ext-1");
        prop_assert_eq!(path, api.path());
        let wire_types: Vec<String> = types.iter().map(|t| format!("{t:?}").to_lowercase()).collect();
        prop_assert_eq!(body, serde_json::json!({
            "schemaVersion": if logs { "2021-03-18" } else { "2022-12-13" },
            "types": wire_types,
            "buffering": {"maxItems": max_items, "maxBytes": max_bytes, "timeoutMs": timeout_ms},
            "destination": {"protocol": "HTTP", "URI": uri},
        }));
    }

    #[test]
    fn next_answers_decode_to_what_was_sent(
        id in request_id(),
        deadline in any::<u64>(),
        arn in prop::option::of("[ -~]{0,60}"),
        trace in prop::option::of("[ -~]{0,60}"),
        nonce in prop::option::of(header_token()),
        payload in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        let mut response = http::Response::builder()
            .header("Lambda-Runtime-Aws-Request-Id", id.as_str())
            .header("Lambda-Runtime-Deadline-Ms", deadline.to_string());
        for (name, value) in [("Lambda-Runtime-Invoked-Function-Arn", &arn), ("Lambda-Runtime-Trace-Id", &trace), ("Lambda-Runtime-Invocation-Id", &nonce)] {
            if let Some(value) = value {
                response = response.header(name, value.as_str());
            }
        }
        let response = response.body(Bytes::from(payload.clone())).unwrap();
        let invocation = Invocation::decode(&response).unwrap();
        let blank_is_absent = |v: &Option<String>| v.as_ref().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        prop_assert_eq!(invocation.request_id, id);
        prop_assert_eq!(invocation.deadline, Some(DeadlineMs(deadline)));
        prop_assert_eq!(invocation.invoked_function_arn, blank_is_absent(&arn));
        prop_assert_eq!(invocation.trace_id, blank_is_absent(&trace));
        prop_assert_eq!(invocation.invocation_id.map(|n| n.to_string()), nonce);
        prop_assert_eq!(invocation.payload, Bytes::from(payload));
    }
}

/// Standard padded base64, decoded independently of the crate's encoder.
fn decode_base64(input: &[u8]) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    assert_eq!(input.len() % 4, 0);
    let mut out = Vec::new();
    for quad in input.chunks(4) {
        let pads = quad.iter().filter(|&&c| c == b'=').count();
        let n = quad
            .iter()
            .take(4 - pads)
            .enumerate()
            .fold(0u32, |n, (i, &c)| n | u32::from(value(c)) << (18 - 6 * i));
        out.extend_from_slice(&n.to_be_bytes()[1..4 - pads]);
    }
    out
}
