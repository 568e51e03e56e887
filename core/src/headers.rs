//! Header names of the Lambda APIs, lower-case as `http` wants them.

#![allow(missing_docs)] // each name is its own documentation

use http::header::HeaderName;

macro_rules! names {
    ($($konst:ident = $value:literal;)*) => {
        $(pub const $konst: HeaderName = HeaderName::from_static($value);)*
    };
}

names! {
    REQUEST_ID = "lambda-runtime-aws-request-id";
    DEADLINE_MS = "lambda-runtime-deadline-ms";
    INVOKED_FUNCTION_ARN = "lambda-runtime-invoked-function-arn";
    TRACE_ID = "lambda-runtime-trace-id";
    CLIENT_CONTEXT = "lambda-runtime-client-context";
    COGNITO_IDENTITY = "lambda-runtime-cognito-identity";
    TENANT_ID = "lambda-runtime-aws-tenant-id";
    INVOCATION_ID = "lambda-runtime-invocation-id";
    FUNCTION_ERROR_TYPE = "lambda-runtime-function-error-type";
    FUNCTION_ERROR_BODY = "lambda-runtime-function-error-body";
    XRAY_ERROR_CAUSE = "lambda-runtime-function-xray-error-cause";
    RESPONSE_MODE = "lambda-runtime-function-response-mode";
    EXTENSION_NAME = "lambda-extension-name";
    EXTENSION_IDENTIFIER = "lambda-extension-identifier";
    EXTENSION_ACCEPT_FEATURE = "lambda-extension-accept-feature";
    EXTENSION_ERROR_TYPE = "lambda-extension-function-error-type";
}

/// The `User-Agent` every request carries.
pub const USER_AGENT_VALUE: &str = concat!("lambda-sansio/", env!("CARGO_PKG_VERSION"));
