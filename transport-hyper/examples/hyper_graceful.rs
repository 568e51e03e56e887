//! An echo function that cleans up on SIGTERM: `on_sigterm` registers an
//! internal extension so that Lambda sends SIGTERM before stopping it.

use bytes::Bytes;
use lambda_sansio_hyper::{on_sigterm, run, Context, HandlerError};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    on_sigterm(|| async { eprintln!("hyper_graceful: SIGTERM received, flushing and exiting") }).await?;
    run(|payload: Bytes, _: Context| async move { Ok::<_, HandlerError>(payload) }).await?;
    Ok(())
}
