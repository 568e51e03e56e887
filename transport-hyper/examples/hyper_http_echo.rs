//! An HTTP echo on the async transport: the request's body back, with its
//! content type. The benchmark's counterpart of the same echo written with
//! `lambda_http` (`bench/lambda-http-echo`).

use bytes::Bytes;
use http::{Request, Response};
use lambda_sansio_hyper::{http_handler, run, Context, HandlerError};

async fn echo(request: Request<Bytes>, _: Context) -> Result<Response<Bytes>, HandlerError> {
    let content_type = request.headers().get("content-type").cloned();
    let mut response = Response::new(request.into_body());
    if let Some(content_type) = content_type {
        response.headers_mut().insert("content-type", content_type);
    }
    Ok(response)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    run(http_handler(echo)).await?;
    Ok(())
}
