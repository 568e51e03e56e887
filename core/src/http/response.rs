//! An `http::Response` as the answer each HTTP source expects.

use aws_lambda_events::alb::AlbTargetGroupResponse;
use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use bytes::{BufMut, Bytes, BytesMut};
use http::header::SET_COOKIE;
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use serde_json::{json, Map, Value};

use super::{body, EventShape, HttpSource};

/// The content type of a streamed HTTP answer (a Function URL in
/// `RESPONSE_STREAM` mode): a JSON prelude, [`STREAM_SEPARATOR`], the body.
pub const STREAM_CONTENT_TYPE: &str = "application/vnd.awslambda.http-integration-response";

/// The eight NUL bytes between a streamed answer's prelude and its body.
pub const STREAM_SEPARATOR: [u8; 8] = [0; 8];

/// Writes `response` as the answer for an event of `shape`:
/// - REST API: `statusCode`, `multiValueHeaders` (or `headers` when the
///   event had no multi-value headers), `body`, `isBase64Encoded`;
/// - HTTP API and Function URL: `statusCode`, `headers` (values of one name
///   joined with `, `), `cookies` from `Set-Cookie`, `body`,
///   `isBase64Encoded`;
/// - ALB: as a REST API, plus `statusDescription` (`200 OK`); multi-value
///   headers only when the target group sent them.
///
/// The body goes as text when [`super::is_text`] says so, else as base64.
pub fn response_to_event(shape: EventShape, response: Response<Bytes>) -> Bytes {
    let (parts, payload) = response.into_parts();
    let status = i64::from(parts.status.as_u16());
    let headers = readable(&parts.headers);
    let (text, base64) = body::encode(&headers, &payload);
    let body = text.map(Body::Text);
    let encoded = match shape.source {
        HttpSource::RestApi => {
            let mut answer = ApiGatewayProxyResponse::default();
            answer.status_code = status;
            set_headers(shape, headers, &mut answer.headers, &mut answer.multi_value_headers);
            answer.body = body;
            answer.is_base64_encoded = base64;
            serde_json::to_vec(&answer)
        }
        HttpSource::HttpApi | HttpSource::FunctionUrl => {
            let mut answer = ApiGatewayV2httpResponse::default();
            answer.status_code = status;
            let (joined, cookies) = joined_and_cookies(&headers);
            answer.headers = joined;
            answer.cookies = cookies;
            answer.body = body;
            answer.is_base64_encoded = base64;
            serde_json::to_vec(&answer)
        }
        HttpSource::Alb => {
            let mut answer = AlbTargetGroupResponse::default();
            answer.status_code = status;
            answer.status_description = Some(status_line(parts.status));
            set_headers(shape, headers, &mut answer.headers, &mut answer.multi_value_headers);
            answer.body = body;
            answer.is_base64_encoded = base64;
            serde_json::to_vec(&answer)
        }
    };
    // Every header value was made UTF-8 above, so encoding cannot fail; a
    // failure would still answer, as an error the caller sees.
    encoded.map_or_else(|_| Bytes::from_static(br#"{"statusCode":500}"#), Bytes::from)
}

/// The start of a streamed HTTP answer: the JSON prelude (`statusCode`,
/// `headers`, `cookies`) and [`STREAM_SEPARATOR`]; the body follows as it is
/// produced. Send it with the content type [`STREAM_CONTENT_TYPE`].
pub fn stream_prelude(parts: &http::response::Parts) -> Bytes {
    let (joined, cookies) = joined_and_cookies(&readable(&parts.headers));
    let headers: Map<String, Value> = joined
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), Value::from(value.to_str().unwrap_or_default())))
        .collect();
    let prelude = json!({ "statusCode": parts.status.as_u16(), "headers": headers, "cookies": cookies });
    let mut out = BytesMut::new();
    out.put_slice(prelude.to_string().as_bytes());
    out.put_slice(&STREAM_SEPARATOR);
    out.freeze()
}

fn status_line(status: StatusCode) -> String {
    format!("{} {}", status.as_u16(), status.canonical_reason().unwrap_or("")).trim_end().to_owned()
}

/// The headers with every value readable as UTF-8 (the answer is JSON).
fn readable(headers: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let value = match value.to_str() {
            Ok(_) => value.clone(),
            Err(_) => HeaderValue::try_from(String::from_utf8_lossy(value.as_bytes()).into_owned())
                .unwrap_or_else(|_| HeaderValue::from_static("")),
        };
        out.append(name.clone(), value);
    }
    out
}

fn set_headers(shape: EventShape, headers: HeaderMap, single: &mut HeaderMap, multi: &mut HeaderMap) {
    if shape.multi_value {
        *multi = headers;
    } else {
        // One value per name: Set-Cookie cannot be joined, the last wins.
        let (joined, _) = joined_and_cookies(&headers);
        *single = joined;
        if let Some(cookie) = headers.get_all(SET_COOKIE).iter().next_back() {
            single.insert(SET_COOKIE, cookie.clone());
        }
    }
}

/// Headers with the values of one name joined with `, `, and the
/// `Set-Cookie` values apart.
fn joined_and_cookies(headers: &HeaderMap) -> (HeaderMap, Vec<String>) {
    let mut joined = HeaderMap::with_capacity(headers.keys_len());
    let mut cookies = Vec::new();
    for name in headers.keys() {
        let values: Vec<&str> =
            headers.get_all(name).iter().filter_map(|value| value.to_str().ok()).collect();
        if name == SET_COOKIE {
            cookies.extend(values.iter().map(|value| (*value).to_owned()));
        } else if let Ok(value) = HeaderValue::try_from(values.join(", ")) {
            joined.insert(name.clone(), value);
        }
    }
    (joined, cookies)
}
