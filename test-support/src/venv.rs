//! Python tools for the interop tests, installed from PyPI into venvs under
//! `target/` on first use. Test binaries running at once (two suites, or the
//! hyper and blocking conformance suites) share one venv per tool: the
//! install happens under an exclusive lock, and a venv counts only once its
//! `.ready` file names the requirement it was built for.

use std::path::{Path, PathBuf};

const INSTALL: &str = r#"
import fcntl, os, subprocess, sys
venv, requirement = sys.argv[1], sys.argv[2]
ready = os.path.join(venv, ".ready")
with open(venv + ".lock", "w") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    if os.path.exists(ready) and open(ready).read() == requirement:
        sys.exit(0)
    subprocess.check_call([sys.executable, "-m", "venv", venv])
    python = os.path.join(venv, "bin", "python")
    subprocess.check_call([python, "-m", "pip", "install", "--quiet", requirement])
    with open(ready, "w") as f:
        f.write(requirement)
"#;

/// The `target/` directory this test binary was built in.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary knows its path");
    exe.ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "target"))
        .expect("the test binary lives under target/")
        .to_path_buf()
}

/// The venv `target/<name>` with `requirement` installed; returns its root.
/// Panics with the step that failed (no python3, no registry).
pub fn venv_with(name: &str, requirement: &str) -> PathBuf {
    let venv = target_dir().join(name);
    let status =
        std::process::Command::new("python3").args(["-c", INSTALL]).arg(&venv).arg(requirement).status();
    assert!(
        status.is_ok_and(|s| s.success()),
        "could not install {requirement} into {}: is python3 installed and PyPI reachable?",
        venv.display()
    );
    venv
}

/// `bin/<tool>` inside `venv`.
pub fn bin(venv: &Path, tool: &str) -> PathBuf {
    venv.join("bin").join(tool)
}
