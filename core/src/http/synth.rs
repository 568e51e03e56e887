//! The other direction, for emulators and tests: a plain HTTP request
//! wrapped as one source's event, and a function's answer read back as the
//! HTTP response that source would send its client.

use std::collections::HashMap;

use aws_lambda_events::alb::{AlbTargetGroupRequest, AlbTargetGroupResponse};
use aws_lambda_events::apigw::{
    ApiGatewayProxyRequest, ApiGatewayProxyResponse, ApiGatewayV2httpRequest, ApiGatewayV2httpResponse,
};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::query_map::QueryMap;
use bytes::Bytes;
use http::header::{CONTENT_TYPE, COOKIE, HOST, SET_COOKIE, USER_AGENT};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use serde_json::Value;

use super::uri::query_pairs;
use super::{body, EventShape, HttpEventError, HttpSource, STREAM_SEPARATOR};

/// What a source adds to an event besides the request itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SynthContext {
    /// The source's request id (`requestContext.requestId`).
    pub request_id: String,
    /// When the request arrived, in epoch milliseconds.
    pub time_epoch_ms: i64,
    /// The client's address.
    pub source_ip: String,
    /// The account that owns the API.
    pub account_id: String,
    /// The API's id (also the Function URL's id).
    pub api_id: String,
    /// The REST API's stage (HTTP APIs and Function URLs use `$default`).
    pub stage: String,
}

impl Default for SynthContext {
    fn default() -> Self {
        Self {
            request_id: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef".to_owned(),
            time_epoch_ms: 0,
            source_ip: "127.0.0.1".to_owned(),
            account_id: "123456789012".to_owned(),
            api_id: "1234567890".to_owned(),
            stage: "prod".to_owned(),
        }
    }
}

/// Wraps `request` (origin-form target, `/path?query`) as the event `shape`
/// describes, as a client's request through that source would arrive.
pub fn event_from_request(shape: EventShape, request: &Request<Bytes>, context: &SynthContext) -> Bytes {
    let path = request.uri().path().to_owned();
    let raw_query = request.uri().query().unwrap_or_default().to_owned();
    let (text, base64) = body::encode(request.headers(), request.body());
    let encoded = match shape.source {
        HttpSource::RestApi => {
            let mut event = ApiGatewayProxyRequest::default();
            let pairs = query_pairs(&raw_query);
            event.http_method = request.method().clone();
            event.resource = Some("/{proxy+}".to_owned());
            event.path = Some(path.clone());
            event.headers = last_values(request.headers());
            event.multi_value_headers = request.headers().clone();
            event.query_string_parameters = last_query(&pairs);
            event.multi_value_query_string_parameters = query_map(pairs);
            event.path_parameters =
                HashMap::from([("proxy".to_owned(), path.trim_start_matches('/').to_owned())]);
            let inner = &mut event.request_context;
            inner.http_method = request.method().clone();
            inner.path = Some(format!("/{}{path}", context.stage));
            inner.resource_path = Some("/{proxy+}".to_owned());
            inner.stage = Some(context.stage.clone());
            inner.request_id = Some(context.request_id.clone());
            inner.account_id = Some(context.account_id.clone());
            inner.apiid = Some(context.api_id.clone());
            inner.domain_name = host(request);
            inner.protocol = Some("HTTP/1.1".to_owned());
            inner.request_time_epoch = context.time_epoch_ms;
            inner.identity.source_ip = Some(context.source_ip.clone());
            event.body = text;
            event.is_base64_encoded = base64;
            serde_json::to_vec(&event)
        }
        HttpSource::HttpApi | HttpSource::FunctionUrl => {
            let mut event = ApiGatewayV2httpRequest::default();
            let mut headers = request.headers().clone();
            let cookies: Vec<String> = headers
                .get_all(COOKIE)
                .iter()
                .filter_map(|value| value.to_str().ok())
                .flat_map(|value| value.split(';').map(str::trim).filter(|cookie| !cookie.is_empty()))
                .map(str::to_owned)
                .collect();
            headers.remove(COOKIE);
            let domain = match shape.source {
                HttpSource::FunctionUrl => format!("{}.lambda-url.us-east-1.on.aws", context.api_id),
                _ => format!("{}.execute-api.us-east-1.amazonaws.com", context.api_id),
            };
            event.version = Some("2.0".to_owned());
            event.route_key = Some("$default".to_owned());
            event.raw_path = Some(path.clone());
            event.raw_query_string = Some(raw_query.clone());
            event.cookies = (!cookies.is_empty()).then_some(cookies);
            event.headers = joined(&headers);
            event.query_string_parameters = joined_query(&query_pairs(&raw_query));
            let inner = &mut event.request_context;
            inner.route_key = Some("$default".to_owned());
            inner.stage = Some("$default".to_owned());
            inner.request_id = Some(context.request_id.clone());
            inner.account_id = Some(context.account_id.clone());
            inner.apiid = Some(context.api_id.clone());
            inner.domain_prefix = Some(context.api_id.clone());
            inner.domain_name = Some(domain);
            inner.time_epoch = context.time_epoch_ms;
            inner.http.method = request.method().clone();
            inner.http.path = Some(path);
            inner.http.protocol = Some("HTTP/1.1".to_owned());
            inner.http.source_ip = Some(context.source_ip.clone());
            inner.http.user_agent =
                request.headers().get(USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned);
            event.body = text;
            event.is_base64_encoded = base64;
            serde_json::to_vec(&event)
        }
        HttpSource::Alb => {
            let mut event = AlbTargetGroupRequest::default();
            let raw_pairs: Vec<(String, String)> = raw_query
                .split('&')
                .filter(|pair| !pair.is_empty())
                .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
                .map(|(key, value)| (key.to_owned(), value.to_owned()))
                .collect();
            event.http_method = request.method().clone();
            event.path = Some(path);
            if shape.multi_value {
                event.multi_value_headers = request.headers().clone();
                event.multi_value_query_string_parameters = query_map(raw_pairs);
            } else {
                event.headers = last_values(request.headers());
                event.query_string_parameters = last_query(&raw_pairs);
            }
            event.request_context.elb.target_group_arn = Some(format!(
                "arn:aws:elasticloadbalancing:us-east-1:{}:targetgroup/lambda/{}",
                context.account_id, context.api_id
            ));
            event.body = Some(text.unwrap_or_default());
            event.is_base64_encoded = base64;
            // A target group sends one header mode, never both maps.
            serde_json::to_value(&event).and_then(|mut value| {
                if let Some(object) = value.as_object_mut() {
                    let unused: [&str; 2] = if shape.multi_value {
                        ["headers", "queryStringParameters"]
                    } else {
                        ["multiValueHeaders", "multiValueQueryStringParameters"]
                    };
                    for key in unused {
                        object.remove(key);
                    }
                }
                serde_json::to_vec(&value)
            })
        }
    };
    encoded.map_or_else(|_| Bytes::from_static(b"{}"), Bytes::from)
}

/// Reads a function's answer to an event of `shape` as the HTTP response the
/// source would send its client. An HTTP API or Function URL answer that is
/// not an object with `statusCode` is the body of a 200 JSON response, as
/// those sources do.
///
/// # Errors
/// An answer that is not JSON, or not of the source's answer shape (the
/// source answers its client 502 then), or has invalid base64 or headers.
pub fn response_from_answer(shape: EventShape, answer: &[u8]) -> Result<Response<Bytes>, HttpEventError> {
    let value: Value =
        serde_json::from_slice(answer).map_err(|error| HttpEventError::NotJson(error.to_string()))?;
    let source = shape.source;
    let malformed =
        |error: serde_json::Error| HttpEventError::Malformed { origin: source, detail: error.to_string() };
    let (status, mut headers, multi, body, base64, cookies) = match source {
        HttpSource::HttpApi | HttpSource::FunctionUrl
            if !value.get("statusCode").is_some_and(Value::is_number) =>
        {
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            let body = Body::Text(String::from_utf8_lossy(answer).into_owned());
            (200, headers, HeaderMap::new(), Some(body), false, Vec::new())
        }
        HttpSource::HttpApi | HttpSource::FunctionUrl => {
            let answer: ApiGatewayV2httpResponse = serde_json::from_value(value).map_err(malformed)?;
            let multi = answer.multi_value_headers;
            (answer.status_code, answer.headers, multi, answer.body, answer.is_base64_encoded, answer.cookies)
        }
        HttpSource::RestApi => {
            let answer: ApiGatewayProxyResponse = serde_json::from_value(value).map_err(malformed)?;
            let multi = answer.multi_value_headers;
            (answer.status_code, answer.headers, multi, answer.body, answer.is_base64_encoded, Vec::new())
        }
        HttpSource::Alb => {
            let answer: AlbTargetGroupResponse = serde_json::from_value(value).map_err(malformed)?;
            let multi = answer.multi_value_headers;
            (answer.status_code, answer.headers, multi, answer.body, answer.is_base64_encoded, Vec::new())
        }
    };
    // Multi-value headers win over single ones of the same name.
    for name in multi.keys() {
        headers.remove(name);
    }
    for (name, value) in &multi {
        headers.append(name.clone(), value.clone());
    }
    for cookie in cookies {
        let value = HeaderValue::try_from(cookie)
            .map_err(|error| HttpEventError::InvalidHttp { part: "cookie", detail: error.to_string() })?;
        headers.append(SET_COOKIE, value);
    }
    let text = match body {
        Some(Body::Text(text)) => Some(text),
        Some(Body::Binary(bytes)) => Some(String::from_utf8_lossy(&bytes).into_owned()),
        _ => None,
    };
    let status =
        u16::try_from(status).ok().and_then(|status| StatusCode::from_u16(status).ok()).ok_or_else(|| {
            HttpEventError::InvalidHttp { part: "status", detail: format!("{status} is not an HTTP status") }
        })?;
    let mut response = Response::new(body::decode(text, base64)?);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    Ok(response)
}

/// Splits the start of a streamed HTTP answer into its prelude, read as a
/// response head, and the number of bytes it took (prelude and separator).
/// `Ok(None)` until the separator has arrived.
///
/// # Errors
/// A prelude that is not the JSON object `{statusCode, headers, cookies}`.
pub fn split_stream_prelude(start: &[u8]) -> Result<Option<(Response<()>, usize)>, HttpEventError> {
    let Some(end) = start.windows(STREAM_SEPARATOR.len()).position(|window| window == STREAM_SEPARATOR)
    else {
        return Ok(None);
    };
    let mut answer = response_from_answer(EventShape::of(HttpSource::FunctionUrl), &start[..end])?;
    answer.headers_mut().remove(http::header::CONTENT_LENGTH);
    let (parts, _) = answer.into_parts();
    Ok(Some((Response::from_parts(parts, ()), end + STREAM_SEPARATOR.len())))
}

fn host(request: &Request<Bytes>) -> Option<String> {
    request.headers().get(HOST).and_then(|value| value.to_str().ok()).map(str::to_owned)
}

/// One value per name, the last (what a single-value event keeps).
fn last_values(headers: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(headers.keys_len());
    for (name, value) in headers {
        out.insert(name.clone(), value.clone());
    }
    out
}

/// The values of one name joined with `,` (what an HTTP API sends).
fn joined(headers: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(headers.keys_len());
    for name in headers.keys() {
        let values: Vec<&[u8]> = headers.get_all(name).iter().map(HeaderValue::as_bytes).collect();
        if let Ok(value) = HeaderValue::from_bytes(&values.join(&b","[..])) {
            out.insert(name.clone(), value);
        }
    }
    out
}

fn query_map(pairs: Vec<(String, String)>) -> QueryMap {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for (key, value) in pairs {
        map.entry(key).or_default().push(value);
    }
    QueryMap::from(map)
}

fn last_query(pairs: &[(String, String)]) -> QueryMap {
    let map: HashMap<String, String> = pairs.iter().cloned().collect();
    QueryMap::from(map)
}

fn joined_query(pairs: &[(String, String)]) -> QueryMap {
    let mut map: HashMap<String, String> = HashMap::new();
    for (key, value) in pairs {
        map.entry(key.clone())
            .and_modify(|joined| {
                joined.push(',');
                joined.push_str(value);
            })
            .or_insert_with(|| value.clone());
    }
    QueryMap::from(map)
}

/// Why a source could not pass its client the function's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GatewayFailure {
    /// The invocation failed (an error report, a crash).
    FunctionError,
    /// The invocation ran out of time.
    Timeout,
    /// The answer was not of the source's answer shape.
    BadAnswer,
}

/// The response a source sends its client when the function failed, as
/// each service does: REST APIs 502 (`Internal server error`) or 504
/// (`Endpoint request timed out`); HTTP APIs 500 or 503; Function URLs and
/// ALBs 502, or 504 for an ALB timeout.
pub fn gateway_failure(source: HttpSource, failure: GatewayFailure) -> Response<Bytes> {
    let (status, body): (u16, &'static str) = match (source, failure) {
        (HttpSource::RestApi, GatewayFailure::Timeout) => {
            (504, r#"{"message": "Endpoint request timed out"}"#)
        }
        (HttpSource::RestApi, _) => (502, r#"{"message": "Internal server error"}"#),
        (HttpSource::HttpApi, GatewayFailure::Timeout) => (503, r#"{"message":"Service Unavailable"}"#),
        (HttpSource::HttpApi, _) => (500, r#"{"message":"Internal Server Error"}"#),
        (HttpSource::FunctionUrl, _) => (502, "Internal Server Error"),
        (HttpSource::Alb, GatewayFailure::Timeout) => (504, "504 Gateway Time-out"),
        (HttpSource::Alb, _) => (502, "502 Bad Gateway"),
    };
    let mut response = Response::new(Bytes::from_static(body.as_bytes()));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    let content_type = if body.starts_with('{') { "application/json" } else { "text/plain" };
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
