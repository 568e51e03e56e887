//! An HTTP echo on the blocking transport: the request's body back, with
//! its content type (the benchmark's blocking entry).

use bytes::Bytes;
use http::{Request, Response};
use lambda_sansio_blocking::{http_handler, run, Context, HandlerError};

fn echo(request: Request<Bytes>, _: &Context) -> Result<Response<Bytes>, HandlerError> {
    let content_type = request.headers().get("content-type").cloned();
    let mut response = Response::new(request.into_body());
    if let Some(content_type) = content_type {
        response.headers_mut().insert("content-type", content_type);
    }
    Ok(response)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run(http_handler(echo))?;
    Ok(())
}
