//! An HTTP function on the blocking transport, behind API Gateway, an ALB
//! or a Function URL: an `http::Request` in, an `http::Response` out.
//!
//! ```text
//! cargo build -p lambda-sansio-blocking --features http --example http_api
//! cargo run -p lambda-sansio-emulator -- --bootstrap target/debug/examples/http_api --http http-api --http-port 9000
//! curl -i http://127.0.0.1:9000/hello?name=you
//! ```

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use lambda_sansio_blocking::{http_handler, run, Context, HandlerError, RequestContext};

fn handle(request: Request<Bytes>, _: &Context) -> Result<Response<Bytes>, HandlerError> {
    let reply = |status: StatusCode, content_type: &str, body: Bytes| {
        Response::builder()
            .status(status)
            .header("content-type", content_type)
            .body(body)
            .map_err(|error| HandlerError::new("Function.BadResponse", error.to_string()))
    };
    match (request.method(), request.uri().path()) {
        (&Method::GET, "/hello") => {
            let name = request.uri().query().and_then(|q| q.strip_prefix("name=")).unwrap_or("world");
            reply(StatusCode::OK, "text/plain", Bytes::from(format!("hello, {name}\n")))
        }
        (&Method::POST, "/echo") => {
            let content_type = request.headers().get("content-type").and_then(|v| v.to_str().ok());
            let content_type = content_type.unwrap_or("application/octet-stream").to_owned();
            reply(StatusCode::OK, &content_type, request.into_body())
        }
        (&Method::GET, "/source") => {
            let source = match request.extensions().get::<RequestContext>() {
                Some(RequestContext::RestApi(_)) => "rest-api",
                Some(RequestContext::HttpApi(_)) => "http-api or function-url",
                Some(RequestContext::Alb(_)) => "alb",
                None => "unknown",
            };
            reply(StatusCode::OK, "text/plain", Bytes::from(source))
        }
        _ => reply(StatusCode::NOT_FOUND, "text/plain", Bytes::from_static(b"no such route\n")),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run(http_handler(handle))?;
    Ok(())
}
