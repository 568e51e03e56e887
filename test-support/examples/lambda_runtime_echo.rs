//! An echo function written with the official `lambda_runtime` crate: code no
//! one here wrote, used to check the emulator against it (and as the
//! baseline of the end-to-end benchmark).

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<Value>| async move { Ok::<Value, Error>(event.payload) },
    ))
    .await
}
