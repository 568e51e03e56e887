//! What the bootstrap's tests share: the binary, an emulator running it, an
//! invocation with a bound.

#![allow(dead_code, clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use lambda_sansio_emulator::{Emulator, EmulatorConfig, InvokeOutcome};

/// The `bootstrap` binary built for these tests.
pub(crate) fn bootstrap() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_bootstrap"))
}

/// An emulator running `bootstrap` with `handler` and `env`.
pub(crate) async fn start_with(handler: &str, env: &[(&str, &str)], config: EmulatorConfig) -> Emulator {
    let env = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let config = EmulatorConfig { bootstrap: Some(bootstrap()), handler: handler.into(), env, ..config };
    Emulator::start(config).await.unwrap()
}

/// Invokes with `payload`; a hang past 30 s fails the test.
pub(crate) async fn invoke(emulator: &Emulator, payload: &str) -> InvokeOutcome {
    tokio::time::timeout(Duration::from_secs(30), emulator.invoke(Bytes::from(payload.to_owned())))
        .await
        .expect("the invocation completes")
        .unwrap()
}
