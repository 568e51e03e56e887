//! Round trips: any request wrapped as a source's event reads back as the
//! same request, and any response written as a source's answer reads back
//! as the same response, up to what the source itself cannot carry
//! (single-value sources keep one value per header, HTTP APIs join them).

use bytes::Bytes;
use http::header::{HeaderName, CONTENT_TYPE, COOKIE, SET_COOKIE};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use lambda_sansio::http::{
    event_from_request, request_from_event, response_from_answer, response_to_event, EventShape, HttpSource,
    PathOptions, SynthContext,
};
use proptest::prelude::*;

fn shapes() -> impl Strategy<Value = EventShape> {
    prop_oneof![
        Just(EventShape::of(HttpSource::RestApi)),
        Just(EventShape::of(HttpSource::HttpApi)),
        Just(EventShape::of(HttpSource::FunctionUrl)),
        Just(EventShape { source: HttpSource::Alb, multi_value: true }),
        Just(EventShape { source: HttpSource::Alb, multi_value: false }),
    ]
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(
            |byte| {
                if byte.is_ascii_alphanumeric() {
                    char::from(byte).to_string()
                } else {
                    format!("%{byte:02X}")
                }
            },
        )
        .collect()
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'%' && at + 2 < bytes.len() {
            out.push(u8::from_str_radix(&text[at + 1..at + 3], 16).unwrap_or(b'?'));
            at += 3;
        } else {
            out.push(if bytes[at] == b'+' { b' ' } else { bytes[at] });
            at += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .map(|(key, value)| (decode(key), decode(value)))
        .collect()
}

prop_compose! {
    fn requests()(
        method in prop::sample::select(vec![Method::GET, Method::POST, Method::PUT, Method::DELETE, Method::PATCH]),
        segments in prop::collection::vec("[a-zA-Z0-9._~-]{1,8}|%C3%A9", 0..4),
        query in prop::collection::vec(("[a-c]{1,2}", "[a-z0-9 é&=+/]{0,6}"), 0..5),
        headers in prop::collection::vec(("x-[a-z]{1,6}", "[!-~]([ -~]{0,10}[!-~])?"), 0..5),
        cookies in prop::collection::vec("[a-z]{1,4}=[a-z0-9]{0,4}", 0..3),
        content_type in prop::sample::select(vec!["", "text/plain", "application/json", "application/octet-stream"]),
        body in prop::collection::vec(any::<u8>(), 0..64),
    ) -> Request<Bytes> {
        let path = format!("/{}", segments.join("/"));
        let query: Vec<String> = query.iter().map(|(key, value)| format!("{}={}", encode(key), encode(value))).collect();
        let target = if query.is_empty() { path } else { format!("{path}?{}", query.join("&")) };
        let mut request = Request::new(Bytes::from(body));
        *request.method_mut() = method;
        *request.uri_mut() = target.parse().unwrap_or_default();
        for (name, value) in headers {
            if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
                request.headers_mut().append(name, value);
            }
        }
        if !cookies.is_empty() {
            request.headers_mut().insert(COOKIE, HeaderValue::try_from(cookies.join("; ")).unwrap_or(HeaderValue::from_static("a=b")));
        }
        if !content_type.is_empty() {
            request.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        }
        request
    }
}

/// The headers a source carries: all values, or the last, or joined.
fn carried(shape: EventShape, headers: &HeaderMap) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for name in headers.keys() {
        let values: Vec<String> = headers
            .get_all(name)
            .iter()
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
            .collect();
        let kept = match shape {
            EventShape { source: HttpSource::HttpApi | HttpSource::FunctionUrl, .. } if name != COOKIE => {
                vec![values.join(",")]
            }
            EventShape { multi_value: false, .. } => values.last().cloned().into_iter().collect(),
            _ => values,
        };
        out.extend(kept.into_iter().map(|value| (name.as_str().to_owned(), value)));
    }
    out.sort();
    out
}

fn sorted_by_key(mut pairs: Vec<(String, String)>) -> Vec<(String, String)> {
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    pairs
}

fn last_per_key(pairs: Vec<(String, String)>) -> Vec<(String, String)> {
    let mut kept: Vec<(String, String)> = Vec::new();
    for (key, value) in pairs {
        kept.retain(|(other, _)| *other != key);
        kept.push((key, value));
    }
    sorted_by_key(kept)
}

proptest! {
    #[test]
    fn a_request_survives_each_source(shape in shapes(), request in requests()) {
        let event = event_from_request(shape, &request, &SynthContext::default());
        let back = request_from_event(&event, &PathOptions::default())
            .map_err(|error| TestCaseError::fail(format!("{error}: {}", String::from_utf8_lossy(&event))))?;
        prop_assert_eq!(back.method(), request.method());
        prop_assert_eq!(back.uri().path(), request.uri().path());
        let sent = request.uri().query().unwrap_or_default();
        let got = back.uri().query().unwrap_or_default();
        match shape.source {
            HttpSource::HttpApi | HttpSource::FunctionUrl => prop_assert_eq!(got, sent),
            _ if shape.multi_value => prop_assert_eq!(pairs(got), sorted_by_key(pairs(sent))),
            _ => prop_assert_eq!(pairs(got), last_per_key(pairs(sent))),
        }
        prop_assert_eq!(carried(shape, back.headers()), carried(shape, request.headers()));
        prop_assert_eq!(back.body(), request.body());
        prop_assert_eq!(back.extensions().get::<EventShape>(), Some(&shape));
    }
}

prop_compose! {
    fn responses()(
        status in 200u16..600,
        headers in prop::collection::vec(("x-[a-z]{1,6}", "[!-~]([ -~]{0,10}[!-~])?"), 0..5),
        cookies in prop::collection::vec("[a-z]{1,4}=[a-z0-9]{0,4}(; Secure)?", 0..3),
        content_type in prop::sample::select(vec!["", "text/html", "application/json", "image/png"]),
        body in prop::collection::vec(any::<u8>(), 0..64),
    ) -> Response<Bytes> {
        let mut response = Response::new(Bytes::from(body));
        *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
        for (name, value) in headers {
            if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
                response.headers_mut().append(name, value);
            }
        }
        for cookie in cookies {
            if let Ok(value) = HeaderValue::try_from(cookie) {
                response.headers_mut().append(SET_COOKIE, value);
            }
        }
        if !content_type.is_empty() {
            response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        }
        response
    }
}

/// The response headers a source carries back.
fn answered(shape: EventShape, headers: &HeaderMap) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for name in headers.keys() {
        let values: Vec<String> = headers
            .get_all(name)
            .iter()
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
            .collect();
        let kept = if shape.multi_value || (name == SET_COOKIE && shape.source != HttpSource::Alb) {
            values
        } else if name == SET_COOKIE {
            values.last().cloned().into_iter().collect()
        } else {
            vec![values.join(", ")]
        };
        out.extend(kept.into_iter().map(|value| (name.as_str().to_owned(), value)));
    }
    out.sort();
    out
}

proptest! {
    #[test]
    fn a_response_survives_each_source(shape in shapes(), response in responses()) {
        let expected_status = response.status();
        let expected_headers = answered(shape, response.headers());
        let expected_body = response.body().clone();
        let answer = response_to_event(shape, response);
        let back = response_from_answer(shape, &answer)
            .map_err(|error| TestCaseError::fail(format!("{error}: {}", String::from_utf8_lossy(&answer))))?;
        prop_assert_eq!(back.status(), expected_status);
        prop_assert_eq!(answered(EventShape { multi_value: true, ..shape }, back.headers()), expected_headers);
        prop_assert_eq!(back.body(), &expected_body);
    }
}
