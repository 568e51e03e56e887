//! An echo function that cleans up on SIGTERM: `on_sigterm` registers an
//! internal extension so that Lambda sends SIGTERM before stopping it.

use lambda_sansio_blocking::{on_sigterm, run, Context, HandlerError};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    on_sigterm(|| eprintln!("blocking_graceful: SIGTERM received, flushing and exiting"))?;
    run(|payload, _: &Context| Ok::<_, HandlerError>(payload))?;
    Ok(())
}
