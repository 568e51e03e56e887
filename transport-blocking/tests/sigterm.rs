//! The graceful-shutdown helper: with it the function gets SIGTERM, runs its
//! hook and exits 0; without it a lone runtime is killed outright.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use lambda_sansio_hyper::emulator::{Emulator, EmulatorConfig, InvokeOutcome};

fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().and_then(|deps| deps.parent()).unwrap().join("examples").join(name);
    assert!(path.exists(), "{} is not built: run the tests with `cargo test`", path.display());
    path
}

async fn run_and_stop(name: &str) -> (Option<std::process::ExitStatus>, bool) {
    let config = EmulatorConfig { bootstrap: Some(example(name)), ..EmulatorConfig::default() };
    let emulator = Emulator::start(config).await.unwrap();
    let outcome =
        tokio::time::timeout(Duration::from_secs(20), emulator.invoke(Bytes::from_static(b"{}"))).await;
    assert_eq!(outcome.unwrap().unwrap(), InvokeOutcome::Response(Bytes::from_static(b"{}")));
    let report = emulator.shutdown().await;
    let (_, status, killed) = &report.processes[0];
    (*status, *killed)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_hook_runs_on_sigterm_and_the_function_exits_cleanly() {
    let (status, killed) = run_and_stop("blocking_graceful").await;
    assert!(!killed, "{status:?}");
    assert_eq!(status.and_then(|s| s.code()), Some(0), "the hook ran and exited 0: {status:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_the_helper_a_lone_runtime_is_killed() {
    let (status, killed) = run_and_stop("blocking_echo").await;
    assert!(killed, "{status:?}");
}
