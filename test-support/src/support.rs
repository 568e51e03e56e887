//! Shared helpers for the emulator tests.

use std::path::PathBuf;

use crate::venv;

/// An example binary built by `cargo test` next to this test's executable.
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let path = profile_dir.join("examples").join(name);
    assert!(path.exists(), "{} is not built: run the tests with `cargo test`", path.display());
    path
}

/// The AWS Python runtime interface client version the interop test uses.
pub const AWSLAMBDARIC: &str = "awslambdaric==4.2.2";

/// A Python with `awslambdaric` installed: `LAMBDA_SANSIO_PYTHON` if set,
/// else a venv under `target/`, created (with pip, from PyPI) on first use.
pub fn python_with_awslambdaric() -> PathBuf {
    venv::tool(&venv::Tool {
        venv: "awslambdaric-venv",
        requirement: AWSLAMBDARIC,
        no_deps: false,
        binary: "python",
        override_var: "LAMBDA_SANSIO_PYTHON",
    })
}
