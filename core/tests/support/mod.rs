//! Helpers shared by the integration tests.
//!
//! `parse_call` is an independent reading of a client request, written from
//! PROTOCOL.md without using the crate's wire code, so that a round trip
//! through it checks the builders rather than restating them.

#![allow(dead_code, unreachable_pub, missing_docs, clippy::unwrap_used)]

use bytes::Bytes;
use http::{Method, Request, Response};

/// A client call as the platform would understand it.
#[derive(Debug, Clone, PartialEq)]
pub enum ParsedCall {
    RuntimeNext,
    Response {
        id: String,
        invocation_id: Option<String>,
        body: Bytes,
        streamed: bool,
    },
    InvocationError {
        id: String,
        invocation_id: Option<String>,
        error_type: String,
        report: serde_json::Value,
    },
    InitError {
        error_type: String,
        report: serde_json::Value,
    },
    Register {
        name: String,
        events: Vec<String>,
        account_id: bool,
    },
    EventNext {
        extension_id: String,
    },
    ExtensionInitError {
        extension_id: String,
        error_type: String,
        report: serde_json::Value,
    },
    ExtensionExitError {
        extension_id: String,
        error_type: String,
        report: serde_json::Value,
    },
    Subscribe {
        extension_id: String,
        path: String,
        body: serde_json::Value,
    },
}

fn header(request: &Request<Bytes>, name: &str) -> Option<String> {
    request.headers().get(name).map(|v| String::from_utf8(v.as_bytes().to_vec()).unwrap())
}

fn json(body: &Bytes) -> serde_json::Value {
    serde_json::from_slice(body).unwrap()
}

/// Parses a request built by the crate; panics (failing the test) on anything
/// a platform would refuse.
pub fn parse_call(request: &Request<Bytes>, prefix: &str) -> ParsedCall {
    assert_eq!(request.uri().scheme_str(), Some("http"));
    let host = header(request, "host").expect("Host header");
    assert_eq!(Some(host.as_str()), request.uri().authority().map(|a| a.as_str()));
    assert!(header(request, "user-agent").unwrap().starts_with("lambda-sansio/"));
    assert!(request.uri().query().is_none());
    let path = request.uri().path().strip_prefix(prefix).expect("path prefix");
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let ext_id = || header(request, "lambda-extension-identifier").expect("extension identifier");
    let body = request.body();
    match (request.method().clone(), segments.as_slice()) {
        (Method::GET, ["2018-06-01", "runtime", "invocation", "next"]) => ParsedCall::RuntimeNext,
        (Method::POST, ["2018-06-01", "runtime", "invocation", id, "response"]) => {
            let streamed =
                header(request, "lambda-runtime-function-response-mode").as_deref() == Some("streaming");
            if streamed {
                assert_eq!(header(request, "transfer-encoding").as_deref(), Some("chunked"));
                let trailer = header(request, "trailer").unwrap();
                assert!(trailer.contains("Lambda-Runtime-Function-Error-Type"));
                assert!(trailer.contains("Lambda-Runtime-Function-Error-Body"));
            }
            ParsedCall::Response {
                id: (*id).to_owned(),
                invocation_id: header(request, "lambda-runtime-invocation-id"),
                body: body.clone(),
                streamed,
            }
        }
        (Method::POST, ["2018-06-01", "runtime", "invocation", id, "error"]) => ParsedCall::InvocationError {
            id: (*id).to_owned(),
            invocation_id: header(request, "lambda-runtime-invocation-id"),
            error_type: header(request, "lambda-runtime-function-error-type").expect("error type"),
            report: json(body),
        },
        (Method::POST, ["2018-06-01", "runtime", "init", "error"]) => ParsedCall::InitError {
            error_type: header(request, "lambda-runtime-function-error-type").expect("error type"),
            report: json(body),
        },
        (Method::POST, ["2020-01-01", "extension", "register"]) => {
            let events = json(body)["events"]
                .as_array()
                .expect("events array")
                .iter()
                .map(|e| e.as_str().unwrap().to_owned())
                .collect();
            ParsedCall::Register {
                name: header(request, "lambda-extension-name").expect("extension name"),
                events,
                account_id: header(request, "lambda-extension-accept-feature").as_deref()
                    == Some("accountId"),
            }
        }
        (Method::GET, ["2020-01-01", "extension", "event", "next"]) => {
            ParsedCall::EventNext { extension_id: ext_id() }
        }
        (Method::POST, ["2020-01-01", "extension", "init", "error"]) => ParsedCall::ExtensionInitError {
            extension_id: ext_id(),
            error_type: header(request, "lambda-extension-function-error-type").expect("error type"),
            report: json(body),
        },
        (Method::POST, ["2020-01-01", "extension", "exit", "error"]) => ParsedCall::ExtensionExitError {
            extension_id: ext_id(),
            error_type: header(request, "lambda-extension-function-error-type").expect("error type"),
            report: json(body),
        },
        (Method::PUT, ["2022-07-01", "telemetry"] | ["2020-08-15", "logs"]) => {
            ParsedCall::Subscribe { extension_id: ext_id(), path: path.to_owned(), body: json(body) }
        }
        (method, other) => panic!("not a Lambda API call: {method} {other:?}"),
    }
}

/// A response with `status`, headers and body.
pub fn answer(status: u16, headers: &[(&str, &str)], body: &str) -> Response<Bytes> {
    let mut builder = Response::builder().status(status);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Bytes::copy_from_slice(body.as_bytes())).unwrap()
}

/// A JSON error answer as the platform sends it.
pub fn error_answer(status: u16, error_type: &str) -> Response<Bytes> {
    answer(status, &[], &format!(r#"{{"errorType":"{error_type}","errorMessage":"test"}}"#))
}

/// A `200` answer to runtime next for `id`.
pub fn invocation(id: &str, body: &str) -> Response<Bytes> {
    answer(
        200,
        &[("lambda-runtime-aws-request-id", id), ("lambda-runtime-deadline-ms", "1700000000000")],
        body,
    )
}

pub const ADDRESS: &str = "127.0.0.1:9001";
