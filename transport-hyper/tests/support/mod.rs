//! Shared helpers for the emulator tests.

#![allow(dead_code, clippy::unwrap_used)]

use std::path::PathBuf;

/// An example binary built by `cargo test` next to this test's executable.
pub(crate) fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let path = profile_dir.join("examples").join(name);
    assert!(path.exists(), "{} is not built: run the tests with `cargo test`", path.display());
    path
}
