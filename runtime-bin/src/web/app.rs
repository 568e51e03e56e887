//! The web app's process: started in a process group of its own, waited on
//! until ready, started again when it dies, stopped at shutdown.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, StatusCode};
use lambda_sansio_blocking::http1::{connect, Connection};

use super::config::{Readiness, WebConfig};
use crate::group;

/// How often readiness is checked while waiting: often at first (most apps
/// are ready within a few hundred milliseconds, and a refused connection
/// costs microseconds), then less.
const POLL_FIRST: Duration = Duration::from_millis(2);
/// How long readiness is checked at [`POLL_FIRST`].
const POLL_FIRST_FOR: Duration = Duration::from_millis(300);
/// How often readiness is checked after that.
const POLL: Duration = Duration::from_millis(10);
/// How long one readiness check may take.
const CHECK_TIMEOUT: Duration = Duration::from_millis(500);

/// The app: its command and, while it runs, its process.
pub(crate) struct App {
    command: String,
    task_root: PathBuf,
    config: WebConfig,
    child: Mutex<Option<Child>>,
}

impl App {
    /// Starts the app and waits until it is ready; an error is the cause of
    /// a failed init.
    pub(crate) fn start(command: &str, task_root: &Path, config: WebConfig) -> Result<Self, String> {
        let app = Self {
            command: command.to_owned(),
            task_root: task_root.to_owned(),
            config,
            child: Mutex::new(None),
        };
        app.launch(Instant::now() + app.config.ready_within)?;
        Ok(app)
    }

    fn lock(&self) -> MutexGuard<'_, Option<Child>> {
        self.child.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts the process and waits for it to be ready until `until`.
    fn launch(&self, until: Instant) -> Result<(), String> {
        let mut command = Command::new("/bin/sh");
        command
            .arg("-c")
            .arg(&self.command)
            .current_dir(&self.task_root)
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit());
        if std::env::var_os("PORT").is_none() {
            command.env("PORT", self.config.port.to_string());
        }
        let child = command.spawn().map_err(|e| format!("the web app could not start: {e}"))?;
        *self.lock() = Some(child);
        self.wait_ready(until)
    }

    fn wait_ready(&self, until: Instant) -> Result<(), String> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.exited() {
                return Err(format!(
                    "the web app exited before it was ready ({status}); its output above says why"
                ));
            }
            if self.is_ready() {
                return Ok(());
            }
            if Instant::now() >= until {
                self.kill();
                return Err(format!(
                    "the web app was not ready on port {} within {:.1} s ({}), and was stopped",
                    self.config.readiness_port,
                    self.config.ready_within.as_secs_f64(),
                    self.describe_check()
                ));
            }
            thread::sleep(if started.elapsed() < POLL_FIRST_FOR { POLL_FIRST } else { POLL });
        }
    }

    fn describe_check(&self) -> String {
        match &self.config.readiness {
            Readiness::Tcp => "checked by connecting over TCP".to_owned(),
            Readiness::Http { path, min_unhealthy } => {
                format!("checked with GET {path}, ready below status {min_unhealthy}")
            }
        }
    }

    fn is_ready(&self) -> bool {
        let authority = format!("127.0.0.1:{}", self.config.readiness_port);
        match &self.config.readiness {
            Readiness::Tcp => connect(&authority, Some(CHECK_TIMEOUT)).is_ok(),
            Readiness::Http { path, min_unhealthy } => {
                let mut connection =
                    Connection::new(authority.clone(), 64 * 1024).with_timeout(CHECK_TIMEOUT);
                let request = Request::get(path.as_str()).header("host", authority).body(Bytes::new());
                let Ok(request) = request else { return false };
                connection.send(&request).is_ok_and(|answer| {
                    answer.status()
                        < StatusCode::from_u16(*min_unhealthy).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
                })
            }
        }
    }

    /// The app's exit status, when it has exited.
    pub(crate) fn exited(&self) -> Option<String> {
        let mut child = self.lock();
        match child.as_mut().map(Child::try_wait) {
            Some(Ok(Some(status))) => Some(status.to_string()),
            Some(Ok(None)) => None,
            Some(Err(error)) => Some(error.to_string()),
            None => Some("it is not running".to_owned()),
        }
    }

    /// The app's exit status if it exits within `wait`: a connection the app
    /// dropped can be seen before its process has ended.
    pub(crate) fn exited_within(&self, wait: Duration) -> Option<String> {
        let until = Instant::now() + wait;
        loop {
            if let Some(ended) = self.exited() {
                return Some(ended);
            }
            if Instant::now() >= until {
                return None;
            }
            thread::sleep(Duration::from_millis(2));
        }
    }

    /// Starts the app again if it has exited, waiting for it to be ready
    /// until `until`; returns how it had ended, or why it cannot start.
    pub(crate) fn revive(&self, until: Instant) -> Result<Option<String>, String> {
        let Some(ended) = self.exited() else { return Ok(None) };
        self.kill();
        self.launch(until)?;
        Ok(Some(ended))
    }

    fn kill(&self) {
        if let Some(mut child) = self.lock().take() {
            group::kill(&mut child);
        }
    }

    /// At shutdown: SIGTERM to the app's process group, up to `grace` for it
    /// to exit, then SIGKILL.
    pub(crate) fn stop(&self, grace: Duration) {
        if let Some(mut child) = self.lock().take() {
            group::stop(&mut child, grace);
        }
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.kill();
    }
}
