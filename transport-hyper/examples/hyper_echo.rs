//! An echo function on the async (hyper + tokio) transport.
//!
//! ```text
//! cargo build -p lambda-sansio-hyper --example hyper_echo
//! cargo run -p lambda-sansio-emulator -- \
//!     --bootstrap target/debug/examples/hyper_echo --invoke '{"hello":"world"}'
//! ```

use bytes::Bytes;
use lambda_sansio_hyper::{run, Context, HandlerError};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let echo = |payload: Bytes, _: Context| async move { Ok::<_, HandlerError>(payload) };
    match run(echo).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("hyper_echo: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
