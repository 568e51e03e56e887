//! Which source an HTTP event came from, found from the event itself.

use serde_json::Value;

use super::HttpEventError;

/// The service that sent an HTTP event; it decides the answer's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HttpSource {
    /// API Gateway REST API (payload format 1.0; an HTTP API configured
    /// for 1.0 sends the same shape).
    RestApi,
    /// API Gateway HTTP API, payload format 2.0.
    HttpApi,
    /// A Function URL (payload format 2.0 on a `lambda-url` domain).
    FunctionUrl,
    /// An Application Load Balancer target group.
    Alb,
}

impl HttpSource {
    /// Every source, for tests and command-line choices.
    pub const ALL: [HttpSource; 4] = [Self::RestApi, Self::HttpApi, Self::FunctionUrl, Self::Alb];

    /// The name people use for it: `rest-api`, `http-api`, `function-url`,
    /// `alb`.
    pub fn name(self) -> &'static str {
        match self {
            Self::RestApi => "rest-api",
            Self::HttpApi => "http-api",
            Self::FunctionUrl => "function-url",
            Self::Alb => "alb",
        }
    }

    /// The source named `name` (see [`HttpSource::name`]).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|source| source.name() == name)
    }
}

impl std::fmt::Display for HttpSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::RestApi => "API Gateway REST API",
            Self::HttpApi => "API Gateway HTTP API",
            Self::FunctionUrl => "Function URL",
            Self::Alb => "Application Load Balancer",
        })
    }
}

/// The source of an event and whether it used multi-value headers (REST
/// APIs always do; an ALB target group does when the option is on); the
/// answer is written in the same shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EventShape {
    /// The service that sent the event.
    pub source: HttpSource,
    /// The event carried `multiValueHeaders`, so the answer does too.
    pub multi_value: bool,
}

impl EventShape {
    /// The shape a source uses by default (multi-value for REST APIs only).
    pub fn of(source: HttpSource) -> Self {
        Self { source, multi_value: source == HttpSource::RestApi }
    }

    /// Finds the shape of `event`.
    ///
    /// # Errors
    /// [`HttpEventError::NotHttp`] for an event that is not from an HTTP
    /// source (SQS, SNS, a WebSocket API, …), and
    /// [`HttpEventError::UnknownVersion`] for a payload format version other
    /// than 1.0 and 2.0.
    pub fn detect(event: &Value) -> Result<Self, HttpEventError> {
        let Some(object) = event.as_object() else {
            return Err(HttpEventError::NotHttp);
        };
        let context = object.get("requestContext").and_then(Value::as_object);
        let multi_value = uses_multi_value(object);
        if context.is_some_and(|context| context.contains_key("elb")) {
            return Ok(Self { source: HttpSource::Alb, multi_value });
        }
        if context.is_some_and(|context| context.contains_key("connectionId")) {
            return Err(HttpEventError::WebSocket);
        }
        match object.get("version").and_then(Value::as_str) {
            Some("2.0") => {
                let domain = context.and_then(|context| context.get("domainName")).and_then(Value::as_str);
                let source = if domain.is_some_and(|domain| domain.contains(".lambda-url.")) {
                    HttpSource::FunctionUrl
                } else {
                    HttpSource::HttpApi
                };
                Ok(Self { source, multi_value: false })
            }
            Some("1.0") => Ok(Self { source: HttpSource::RestApi, multi_value: true }),
            Some(other) if context.is_some() => Err(HttpEventError::UnknownVersion(other.to_owned())),
            _ if context.is_some() && object.contains_key("httpMethod") => {
                Ok(Self { source: HttpSource::RestApi, multi_value: true })
            }
            _ => Err(HttpEventError::NotHttp),
        }
    }
}

/// Whether an event carries its headers as `multiValueHeaders`: a non-empty
/// map of them, or (no header at all) that map without a `headers` one.
fn uses_multi_value(object: &serde_json::Map<String, Value>) -> bool {
    let filled = |key: &str| object.get(key).and_then(Value::as_object).is_some_and(|map| !map.is_empty());
    if filled("multiValueHeaders") {
        true
    } else if filled("headers") {
        false
    } else {
        object.contains_key("multiValueHeaders") && !object.contains_key("headers")
    }
}
