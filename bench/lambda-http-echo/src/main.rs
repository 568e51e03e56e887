//! The HTTP echo with `lambda_http`: the request's body back, with its
//! content type.

use lambda_http::{run, service_fn, Body, Error, Request, Response};

async fn echo(request: Request) -> Result<Response<Body>, Error> {
    let content_type = request.headers().get("content-type").cloned();
    let mut response = Response::new(request.into_body());
    if let Some(content_type) = content_type {
        response.headers_mut().insert("content-type", content_type);
    }
    Ok(response)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    run(service_fn(echo)).await
}
