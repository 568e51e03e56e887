//! Which API call a request is: the platform's reading of a client request.

use bytes::Bytes;
use http::{Method, Request};

use crate::telemetry::SubscriptionApi;

/// A request, routed by method and path. Identifiers stay raw text here; the
/// machine validates them and answers with the platform's error types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route<'a> {
    /// `GET /2018-06-01/runtime/invocation/next`.
    RuntimeNext,
    /// `POST /2018-06-01/runtime/invocation/{id}/response`.
    RuntimeResponse {
        /// The id segment, unvalidated.
        request_id: &'a str,
    },
    /// `POST /2018-06-01/runtime/invocation/{id}/error`.
    RuntimeError {
        /// The id segment, unvalidated.
        request_id: &'a str,
    },
    /// `POST /2018-06-01/runtime/init/error`.
    RuntimeInitError,
    /// `POST /2020-01-01/extension/register`.
    Register,
    /// `GET /2020-01-01/extension/event/next`.
    ExtensionNext,
    /// `POST /2020-01-01/extension/init/error`.
    ExtensionInitError,
    /// `POST /2020-01-01/extension/exit/error`.
    ExtensionExitError,
    /// `PUT /2022-07-01/telemetry` or `PUT /2020-08-15/logs`.
    Subscribe(SubscriptionApi),
    /// A known path with the wrong method.
    MethodNotAllowed,
    /// Anything else.
    NotFound,
}

impl<'a> Route<'a> {
    /// Routes `request` by its method and path.
    pub fn of(request: &'a Request<Bytes>) -> Self {
        let path = request.uri().path();
        let method = request.method();
        let expect =
            |wanted: Method, route: Route<'a>| if method == wanted { route } else { Route::MethodNotAllowed };
        if let Some(rest) = path.strip_prefix("/2018-06-01/runtime/invocation/") {
            if rest == "next" {
                return expect(Method::GET, Route::RuntimeNext);
            }
            return match rest.rsplit_once('/') {
                Some((id, "response")) if !id.is_empty() => {
                    expect(Method::POST, Route::RuntimeResponse { request_id: id })
                }
                Some((id, "error")) if !id.is_empty() => {
                    expect(Method::POST, Route::RuntimeError { request_id: id })
                }
                _ => Route::NotFound,
            };
        }
        match path {
            "/2018-06-01/runtime/init/error" => expect(Method::POST, Route::RuntimeInitError),
            "/2020-01-01/extension/register" => expect(Method::POST, Route::Register),
            "/2020-01-01/extension/event/next" => expect(Method::GET, Route::ExtensionNext),
            "/2020-01-01/extension/init/error" => expect(Method::POST, Route::ExtensionInitError),
            "/2020-01-01/extension/exit/error" => expect(Method::POST, Route::ExtensionExitError),
            "/2022-07-01/telemetry" => expect(Method::PUT, Route::Subscribe(SubscriptionApi::Telemetry)),
            "/2020-08-15/logs" => expect(Method::PUT, Route::Subscribe(SubscriptionApi::Logs)),
            _ => Route::NotFound,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(method: Method, path: &str, expected: &Route<'_>) {
        let request = Request::builder().method(method).uri(path).body(Bytes::new()).unwrap();
        assert_eq!(&Route::of(&request), expected, "{path}");
    }

    #[test]
    fn every_call_routes() {
        check(Method::GET, "/2018-06-01/runtime/invocation/next", &Route::RuntimeNext);
        check(
            Method::POST,
            "/2018-06-01/runtime/invocation/abc/response",
            &Route::RuntimeResponse { request_id: "abc" },
        );
        check(
            Method::POST,
            "/2018-06-01/runtime/invocation/a/b/error",
            &Route::RuntimeError { request_id: "a/b" },
        );
        check(Method::POST, "/2018-06-01/runtime/invocation//error", &Route::NotFound);
        check(Method::GET, "/2018-06-01/runtime/init/error", &Route::MethodNotAllowed);
        check(Method::PUT, "/2020-08-15/logs", &Route::Subscribe(SubscriptionApi::Logs));
        check(Method::POST, "/2020-01-01/extension/register", &Route::Register);
        check(Method::GET, "/", &Route::NotFound);
    }
}
