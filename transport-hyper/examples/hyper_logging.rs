//! Logging the way Lambda expects (feature `tracing`) with invocations that
//! overlap (Lambda Managed Instances): each line carries the request id of
//! the invocation it was written in.
//!
//! ```text
//! cargo build -p lambda-sansio-hyper --features tracing --example hyper_logging
//! cargo run -p lambda-sansio-emulator -- --log-format json --concurrency 4 \
//!     --bootstrap target/debug/examples/hyper_logging --invoke '{}'
//! ```

use std::time::Duration;

use bytes::Bytes;
use lambda_sansio_hyper::{init_default_subscriber, run, Context, HandlerError};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    if let Err(error) = init_default_subscriber() {
        eprintln!("hyper_logging: could not install the logger: {error}");
    }
    let handler = |_: Bytes, context: Context| async move {
        let id = context.request_id.to_string();
        tracing::info!(mine = %id, "started");
        tokio::time::sleep(Duration::from_millis(30)).await;
        tracing::info!(mine = %id, "finished");
        Ok::<_, HandlerError>(Bytes::from(format!("{{\"requestId\":\"{id}\"}}")))
    };
    match run(handler).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("hyper_logging: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
