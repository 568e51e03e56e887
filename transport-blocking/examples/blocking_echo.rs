//! An echo function on the blocking transport. Build it, then run it under
//! the emulator:
//!
//! ```text
//! cargo build -p lambda-sansio-blocking --example blocking_echo
//! cargo run -p lambda-sansio-emulator -- \
//!     --bootstrap target/debug/examples/blocking_echo --invoke '{"hello":"world"}'
//! ```

use lambda_sansio_blocking::{run, Context, HandlerError};

fn main() -> std::process::ExitCode {
    let echo = |payload, _: &Context| Ok::<_, HandlerError>(payload);
    match run(echo) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("blocking_echo: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
