//! An HTTP event as an `http::Request`.

use std::collections::HashMap;

use aws_lambda_events::alb::{AlbTargetGroupRequest, AlbTargetGroupRequestContext};
use aws_lambda_events::apigw::{
    ApiGatewayProxyRequest, ApiGatewayProxyRequestContext, ApiGatewayV2httpRequest,
    ApiGatewayV2httpRequestContext,
};
use aws_lambda_events::query_map::QueryMap;
use bytes::Bytes;
use http::header::COOKIE;
use http::{HeaderMap, HeaderValue, Method, Request};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::uri::{escape_component, escape_raw};
use super::{body, EventShape, HttpEventError, HttpSource};

/// How an event's path becomes the request's path.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PathOptions {
    /// Remove an HTTP API's stage (`/dev` of `/dev/items`) from the path;
    /// the `$default` stage has none. REST API paths never carry it.
    pub strip_stage: bool,
    /// Remove this prefix (`/orders`) from the start of every path, as a
    /// custom domain's base path mapping does; `/orders` alone becomes `/`.
    pub remove_base_path: Option<String>,
}

impl PathOptions {
    /// The options a function's environment asks for, read through `lookup`
    /// (`std::env::var` in a real function):
    /// `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH=true` strips the stage (as
    /// `lambda_http` does) and `AWS_LWA_REMOVE_BASE_PATH` names a base path
    /// (as the Lambda Web Adapter does).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let strip_stage = lookup("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH").is_some_and(|value| value == "true");
        let remove_base_path = lookup("AWS_LWA_REMOVE_BASE_PATH").filter(|path| !path.trim().is_empty());
        Self { strip_stage, remove_base_path }
    }
}

/// The request context the source sent, for handlers that need the caller's
/// identity, the authorizer's claims, the stage or the request id.
#[derive(Clone, Debug, PartialEq)]
pub enum RequestContext {
    /// From a REST API.
    RestApi(Box<ApiGatewayProxyRequestContext>),
    /// From an HTTP API or a Function URL.
    HttpApi(Box<ApiGatewayV2httpRequestContext>),
    /// From an Application Load Balancer.
    Alb(AlbTargetGroupRequestContext),
}

impl RequestContext {
    /// The context as the JSON the source sent (what the Lambda Web Adapter
    /// passes to an app in `x-amzn-request-context`).
    pub fn to_json(&self) -> String {
        let encoded = match self {
            Self::RestApi(context) => serde_json::to_string(context),
            Self::HttpApi(context) => serde_json::to_string(context),
            Self::Alb(context) => serde_json::to_string(context),
        };
        encoded.unwrap_or_else(|_| "{}".to_owned())
    }
}

/// The path parameters a REST or HTTP API route matched (`{id}`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PathParameters(pub HashMap<String, String>);

/// The stage variables of a REST or HTTP API stage.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StageVariables(pub HashMap<String, String>);

/// Reads an invocation's payload as an HTTP request.
///
/// The request has the event's method, path (see [`PathOptions`]), query
/// string (repeated keys kept), headers (all values of multi-value ones),
/// cookies as one `cookie` header, and body (base64 decoded). Its extensions
/// hold the [`EventShape`], the [`RequestContext`], the [`PathParameters`]
/// and the [`StageVariables`].
///
/// # Errors
/// Any [`HttpEventError`]: not JSON, not an HTTP event, an unknown payload
/// version, fields missing or of the wrong type, invalid base64, or a path
/// or method HTTP does not allow.
pub fn request_from_event(event: &[u8], options: &PathOptions) -> Result<Request<Bytes>, HttpEventError> {
    let value: Value =
        serde_json::from_slice(event).map_err(|error| HttpEventError::NotJson(error.to_string()))?;
    let shape = EventShape::detect(&value)?;
    let parts = match shape.source {
        HttpSource::RestApi => rest_api(parse(value, shape.source)?)?,
        HttpSource::HttpApi | HttpSource::FunctionUrl => {
            http_api(parse(value, shape.source)?, options.strip_stage)?
        }
        HttpSource::Alb => alb(parse(value, shape.source)?)?,
    };
    let path = absolute(remove_base_path(&parts.path, options.remove_base_path.as_deref()));
    let target = if parts.query.is_empty() { path } else { format!("{path}?{}", parts.query) };
    let mut request = Request::builder()
        .method(parts.method)
        .uri(target)
        .body(parts.body)
        .map_err(|error| HttpEventError::InvalidHttp { part: "path", detail: error.to_string() })?;
    *request.headers_mut() = parts.headers;
    let extensions = request.extensions_mut();
    extensions.insert(shape);
    extensions.insert(parts.context);
    extensions.insert(PathParameters(parts.path_parameters));
    extensions.insert(StageVariables(parts.stage_variables));
    Ok(request)
}

/// What every source's event comes down to.
struct Parts {
    method: Method,
    path: String,
    query: String,
    headers: HeaderMap,
    body: Bytes,
    context: RequestContext,
    path_parameters: HashMap<String, String>,
    stage_variables: HashMap<String, String>,
}

fn parse<T: DeserializeOwned>(value: Value, source: HttpSource) -> Result<T, HttpEventError> {
    serde_json::from_value(value)
        .map_err(|error| HttpEventError::Malformed { origin: source, detail: error.to_string() })
}

fn missing(source: HttpSource, field: &str) -> HttpEventError {
    HttpEventError::Malformed { origin: source, detail: format!("it has no {field}") }
}

fn rest_api(event: ApiGatewayProxyRequest) -> Result<Parts, HttpEventError> {
    let path = event.path.clone().or_else(|| event.request_context.path.clone());
    let path = path.ok_or_else(|| missing(HttpSource::RestApi, "path"))?;
    let query = if event.multi_value_query_string_parameters.is_empty() {
        &event.query_string_parameters
    } else {
        &event.multi_value_query_string_parameters
    };
    Ok(Parts {
        method: event.http_method,
        path: escape_raw(&path),
        query: encoded_query(query, escape_component),
        headers: if event.multi_value_headers.is_empty() { event.headers } else { event.multi_value_headers },
        body: body::decode(event.body, event.is_base64_encoded)?,
        context: RequestContext::RestApi(Box::new(event.request_context)),
        path_parameters: event.path_parameters,
        stage_variables: event.stage_variables,
    })
}

fn http_api(event: ApiGatewayV2httpRequest, strip_stage: bool) -> Result<Parts, HttpEventError> {
    let context = event.request_context;
    let path = event.raw_path.or_else(|| context.http.path.clone());
    let mut path = path.ok_or_else(|| missing(HttpSource::HttpApi, "rawPath"))?;
    if strip_stage {
        if let Some(stage) = context.stage.as_deref().filter(|stage| *stage != "$default") {
            path = remove_base_path(&path, Some(&format!("/{stage}")));
        }
    }
    let mut headers = event.headers;
    if let Some(cookies) = event.cookies.filter(|cookies| !cookies.is_empty()) {
        let joined = HeaderValue::try_from(cookies.join("; "))
            .map_err(|error| HttpEventError::InvalidHttp { part: "cookies", detail: error.to_string() })?;
        headers.insert(COOKIE, joined);
    }
    Ok(Parts {
        method: context.http.method.clone(),
        path: escape_raw(&path),
        query: escape_raw(event.raw_query_string.as_deref().unwrap_or_default()),
        headers,
        body: body::decode(event.body, event.is_base64_encoded)?,
        context: RequestContext::HttpApi(Box::new(context)),
        path_parameters: event.path_parameters,
        stage_variables: event.stage_variables,
    })
}

fn alb(event: AlbTargetGroupRequest) -> Result<Parts, HttpEventError> {
    let path = event.path.ok_or_else(|| missing(HttpSource::Alb, "path"))?;
    let query = if event.multi_value_query_string_parameters.is_empty() {
        &event.query_string_parameters
    } else {
        &event.multi_value_query_string_parameters
    };
    Ok(Parts {
        method: event.http_method,
        path: escape_raw(&path),
        // An ALB passes the query as the client sent it, still encoded.
        query: encoded_query(query, escape_raw),
        headers: if event.multi_value_headers.is_empty() { event.headers } else { event.multi_value_headers },
        body: body::decode(event.body, event.is_base64_encoded)?,
        context: RequestContext::Alb(event.request_context),
        path_parameters: HashMap::new(),
        stage_variables: HashMap::new(),
    })
}

/// A query map as a query string, keys in order (the map keeps none), each
/// key's values in the order they came.
fn encoded_query(query: &QueryMap, escape: fn(&str) -> String) -> String {
    let mut pairs: Vec<(&str, &str)> = query.iter().collect();
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    let encoded: Vec<String> =
        pairs.iter().map(|(key, value)| format!("{}={}", escape(key), escape(value))).collect();
    encoded.join("&")
}

/// A path as a request target: it starts with `/` (an event's path that
/// does not, or is empty, would otherwise read as something else).
fn absolute(path: String) -> String {
    if path.starts_with('/') {
        path
    } else {
        format!("/{path}")
    }
}

fn remove_base_path(path: &str, base: Option<&str>) -> String {
    let Some(base) = base.map(|base| base.trim_end_matches('/')).filter(|base| !base.is_empty()) else {
        return path.to_owned();
    };
    match path.strip_prefix(base) {
        Some("") => "/".to_owned(),
        Some(rest) if rest.starts_with('/') => rest.to_owned(),
        _ => path.to_owned(),
    }
}
