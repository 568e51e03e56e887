//! A minimal external extension on the blocking transport: counts
//! invocations and says goodbye at SHUTDOWN.
//!
//! ```text
//! cargo build -p lambda-sansio-blocking --examples
//! cargo run -p lambda-sansio-emulator -- \
//!     --bootstrap target/debug/examples/blocking_echo \
//!     --extension target/debug/examples/blocking_extension --invoke '{}' --invoke '{}'
//! ```

#![allow(clippy::print_stdout)]

use lambda_sansio::extension::EventType;
use lambda_sansio_blocking::{Event, Extension};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // An external extension registers under its own file name.
    let name =
        std::env::current_exe()?.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut invocations = 0;
    Extension::new(&name, &[EventType::Invoke, EventType::Shutdown])?.run(|event| {
        match event {
            Event::Invoke(invoke) => {
                invocations += 1;
                println!("{name}: invocation {invocations} ({})", invoke.request_id);
            }
            Event::Shutdown(shutdown) => {
                println!(
                    "{name}: shutdown ({}) after {invocations} invocations",
                    shutdown.shutdown_reason.as_str()
                );
            }
            // This example subscribes to nothing; a refusal cannot happen.
            Event::SubscriptionRejected(_) => {}
        }
        Ok(())
    })?;
    Ok(())
}
