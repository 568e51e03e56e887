//! A minimal external extension on the async transport: counts invocations
//! and says goodbye at SHUTDOWN.
//!
//! ```text
//! cargo build -p lambda-sansio-hyper --examples
//! cargo run -p lambda-sansio-emulator -- \
//!     --bootstrap target/debug/examples/hyper_echo \
//!     --extension target/debug/examples/hyper_extension --invoke '{}' --invoke '{}'
//! ```

#![allow(clippy::print_stdout)]

use lambda_sansio::extension::EventType;
use lambda_sansio_hyper::{Event, Extension};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let name =
        std::env::current_exe()?.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut invocations = 0;
    Extension::new(&name, &[EventType::Invoke, EventType::Shutdown])?
        .run(|event| {
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
            async { Ok(()) }
        })
        .await?;
    Ok(())
}
