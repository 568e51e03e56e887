//! Logging the way Lambda expects (feature `tracing`): every line carries
//! the invocation's request id, in the format and at the level Lambda's
//! advanced logging controls ask for.
//!
//! ```text
//! cargo build -p lambda-sansio-blocking --features tracing --example blocking_logging
//! cargo run -p lambda-sansio-emulator -- --log-format json \
//!     --bootstrap target/debug/examples/blocking_logging --invoke '{"hello":"world"}'
//! ```

use lambda_sansio_blocking::{init_default_subscriber, run, Context, HandlerError};

fn main() -> std::process::ExitCode {
    if let Err(error) = init_default_subscriber() {
        eprintln!("blocking_logging: could not install the logger: {error}");
    }
    let handler = |payload: bytes::Bytes, context: &Context| {
        tracing::info!(bytes = payload.len(), "handling");
        tracing::debug!("a detail, shown at AWS_LAMBDA_LOG_LEVEL=DEBUG");
        Ok::<_, HandlerError>(bytes::Bytes::from(format!("{{\"requestId\":\"{}\"}}", context.request_id)))
    };
    match run(handler) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("blocking_logging: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
