//! Python tools for the interop tests, installed from PyPI into venvs under
//! `target/` on first use. Test binaries running at once (two suites, or the
//! hyper and blocking conformance suites) share one venv per tool: the
//! install happens under an exclusive lock, and a venv counts only once its
//! `.ready` file names the requirement it was built for. A failed install is
//! remembered for a few minutes, so a machine without the registry gets one
//! clear message per tool instead of one pip failure per test.

use std::path::{Path, PathBuf};

/// A tool the tests install into a venv, unless the user points at their own.
#[derive(Debug, Clone, Copy)]
pub struct Tool {
    /// The venv's directory name under `target/`.
    pub venv: &'static str,
    /// The pip requirement.
    pub requirement: &'static str,
    /// Install the package alone, without its dependencies (for example
    /// `cargo-lambda` without the 411 MB `ziglang`, which `watch` does not use).
    pub no_deps: bool,
    /// The file under the venv's `bin/` to return.
    pub binary: &'static str,
    /// The environment variable that names a binary to use instead.
    pub override_var: &'static str,
}

const INSTALL: &str = r#"
import fcntl, os, subprocess, sys, time
venv, requirement, no_deps = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
ready, failed = os.path.join(venv, ".ready"), venv + ".failed"
with open(venv + ".lock", "w") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    if os.path.exists(ready) and open(ready).read() == requirement:
        sys.exit(0)
    if os.path.exists(failed) and time.time() - os.path.getmtime(failed) < 300:
        sys.exit(3)
    try:
        subprocess.check_call([sys.executable, "-m", "venv", venv])
        python = os.path.join(venv, "bin", "python")
        extra = ["--no-deps"] if no_deps else []
        subprocess.check_call([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *extra, requirement])
    except (subprocess.CalledProcessError, OSError):
        open(failed, "w").close()
        sys.exit(2)
    if os.path.exists(failed):
        os.remove(failed)
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

/// The path of `tool`: the binary its override variable names, else the
/// one in its venv under `target/`, installed on first use. Panics with one
/// sentence naming the requirement and the override variable when it
/// cannot be installed (no python3, no registry).
pub fn tool(tool: &Tool) -> PathBuf {
    if let Some(path) = std::env::var_os(tool.override_var) {
        return PathBuf::from(path);
    }
    let venv = target_dir().join(tool.venv);
    let status = std::process::Command::new("python3")
        .args(["-c", INSTALL])
        .arg(&venv)
        .arg(tool.requirement)
        .arg(if tool.no_deps { "1" } else { "0" })
        .status();
    assert!(
        status.is_ok_and(|s| s.success()),
        "{} could not be installed into {} (is python3 installed and PyPI reachable?); \
         set {} to a {} you installed yourself",
        tool.requirement,
        venv.display(),
        tool.override_var,
        tool.binary,
    );
    bin(&venv, tool.binary)
}

/// `bin/<name>` inside `venv`.
pub fn bin(venv: &Path, name: &str) -> PathBuf {
    venv.join("bin").join(name)
}
