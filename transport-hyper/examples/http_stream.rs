//! A streaming HTTP function on the async transport, for a Function URL in
//! `RESPONSE_STREAM` mode: the head goes out at once, then each line as it
//! is produced.
//!
//! ```text
//! cargo build -p lambda-sansio-hyper --features http --example http_stream
//! cargo run -p lambda-sansio-emulator -- --bootstrap target/debug/examples/http_stream --http function-url --http-port 9000
//! curl -N http://127.0.0.1:9000/count?to=5
//! ```

use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use lambda_sansio_hyper::{http_stream_handler, run, Chunks, Context, HandlerError};

async fn handle(request: Request<Bytes>, _: Context) -> Result<Response<Chunks>, HandlerError> {
    let to: u32 =
        request.uri().query().and_then(|q| q.strip_prefix("to=")).and_then(|n| n.parse().ok()).unwrap_or(3);
    let (sender, chunks) = tokio::sync::mpsc::channel(4);
    tokio::spawn(async move {
        for n in 1..=to {
            if sender.send(Ok(Bytes::from(format!("line {n}\n")))).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    Response::builder()
        .header("content-type", "text/plain")
        .header("set-cookie", "seen=1")
        .body(chunks)
        .map_err(|error| HandlerError::new("Function.BadResponse", error.to_string()))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    run(http_stream_handler(handle)).await?;
    Ok(())
}
