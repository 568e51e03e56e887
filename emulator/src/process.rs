//! Launching and stopping the bootstrap and extension processes.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use lambda_sansio::platform::PlatformEvent;
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command as Process};
use tokio::sync::{mpsc, watch};

use super::events::{Events, RecvError};

use super::actor::{Command, Source};
use super::output::{OutputLine, OutputLog};

/// A running child: its pid and the exit status once known.
pub(crate) struct Running {
    pub(crate) name: String,
    pid: Option<Pid>,
    exit: watch::Receiver<Option<ExitStatus>>,
    pumps: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// The process id, while known.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.pid.and_then(|pid| u32::try_from(pid.as_raw()).ok())
    }

    /// The process group it leads, for signals to all of it.
    pub(crate) fn group(&self) -> Option<Pid> {
        self.pid
    }

    /// Signals the process, its process group and every process it started.
    fn signal(&self, signal: Signal) {
        if let Some(pid) = self.pid {
            super::tree::signal_all(pid, signal);
        }
    }

    /// Waits up to `budget` for the process to exit.
    pub(crate) async fn wait_for(&mut self, budget: Duration) -> Option<ExitStatus> {
        let waited = tokio::time::timeout(budget, self.exit.wait_for(Option::is_some)).await;
        match waited {
            Ok(Ok(status)) => *status,
            _ => None,
        }
    }

    /// Waits up to `budget` for the process to exit on its own, then SIGKILL.
    pub(crate) async fn stop_after(&mut self, budget: Duration) -> (Option<ExitStatus>, bool) {
        let status = self.wait_for(budget).await;
        self.finish(status).await
    }

    /// SIGTERM (unless `budget` is zero), then SIGKILL after `budget`.
    /// Returns the exit status and whether SIGKILL was needed.
    pub(crate) async fn stop(&mut self, budget: Duration) -> (Option<ExitStatus>, bool) {
        let exited = *self.exit.borrow();
        let status = match exited {
            Some(status) => Some(status),
            None if !budget.is_zero() => {
                self.signal(Signal::SIGTERM);
                self.wait_for(budget).await
            }
            None => None,
        };
        self.finish(status).await
    }

    /// SIGKILL unless the process already exited (`status`), then lets the
    /// output pumps copy what it wrote last (bounded). Returns the exit status
    /// and whether SIGKILL was needed.
    async fn finish(&mut self, status: Option<ExitStatus>) -> (Option<ExitStatus>, bool) {
        let outcome = match status {
            Some(status) => (Some(status), false),
            None => {
                self.signal(Signal::SIGKILL);
                (self.wait_for(Duration::from_secs(2)).await, true)
            }
        };
        // What it started and left behind in its process group goes too.
        if let Some(pid) = self.pid {
            let _ = nix::sys::signal::killpg(pid, Signal::SIGKILL);
        }
        for pump in self.pumps.drain(..) {
            let _ = tokio::time::timeout(Duration::from_millis(500), pump).await;
        }
        outcome
    }
}

/// Starts `path` with `env`, passing its output through (to our stdout and
/// stderr, and to the actor as telemetry), and reporting its exit.
pub(crate) fn launch(
    path: &Path,
    env: &[(String, String)],
    source: Source,
    commands: &mpsc::UnboundedSender<Command>,
    log: &OutputLog,
) -> std::io::Result<Running> {
    let path = &std::fs::canonicalize(path)?;
    let mut child: Child = Process::new(path)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(path.parent().unwrap_or(Path::new(".")))
        .stdin(Stdio::null())
        // Its own process group, so that stopping it stops what it started.
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let pid = child.id().and_then(|id| i32::try_from(id).ok()).map(Pid::from_raw);
    let name = path.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let mut pumps = Vec::new();
    // Each pump says when its pipe ended, so that the exit is reported only
    // after the last lines (a crash's last words are part of its logs).
    let (drained, mut pipes_ended) = mpsc::unbounded_channel::<()>();
    let mut pipes = 0;
    let output: [(Option<Box<dyn AsyncRead + Unpin + Send>>, bool); 2] = [
        (child.stdout.take().map(|o| Box::new(o) as Box<dyn AsyncRead + Unpin + Send>), false),
        (child.stderr.take().map(|e| Box::new(e) as Box<dyn AsyncRead + Unpin + Send>), true),
    ];
    for (pipe, is_stderr) in output {
        let Some(pipe) = pipe else { continue };
        pipes += 1;
        let (source, commands, log, name, drained) =
            (source.clone(), commands.clone(), log.clone(), name.clone(), drained.clone());
        pumps.push(tokio::spawn(async move {
            pump(pipe, is_stderr, source, commands, log, name).await;
            let _ = drained.send(());
        }));
    }
    let (exit_tx, exit) = watch::channel(None);
    let commands = commands.clone();
    let exited = source.clone();
    tokio::spawn(async move {
        let status = child.wait().await.ok();
        // A process it started may hold the pipes open: wait for the pipes
        // a little only.
        let all_ended = async {
            for _ in 0..pipes {
                let _ = pipes_ended.recv().await;
            }
        };
        let _ = tokio::time::timeout(Duration::from_millis(500), all_ended).await;
        // The actor hears of the exit before anyone waiting on `exit` can
        // move on (and, say, reset the environment): the exit of an old
        // process is never taken for one of the next environment's.
        let text = status.map_or_else(|| "unknown".to_owned(), |s| s.to_string());
        let _ = commands.send(Command::Exited { source: exited, status: text });
        let _ = exit_tx.send(status);
    });
    Ok(Running { name, pid, exit, pumps })
}

/// Copies lines of a child's output to ours and to the actor.
async fn pump(
    output: impl AsyncRead + Unpin,
    is_stderr: bool,
    source: Source,
    commands: mpsc::UnboundedSender<Command>,
    log: OutputLog,
    process: String,
) {
    let mut lines = BufReader::new(output).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if is_stderr {
            eprintln!("{line}");
        } else {
            #[allow(clippy::print_stdout)]
            {
                println!("{line}");
            }
        }
        log.push(OutputLine { process: process.clone(), stderr: is_stderr, line: line.clone() });
        let _ = commands.send(Command::Output { source: source.clone(), line });
    }
}

/// The executables in `dir` (like `/opt/extensions`), sorted by name.
pub(crate) fn extensions_in(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    use std::os::unix::fs::PermissionsExt;
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let executable =
            std::fs::metadata(&path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
        if executable {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}

/// Waits until every launched extension and every name in `others` has
/// registered (or, for a launched one, exited), or `budget` passed.
pub(crate) async fn await_registration(
    events: &mut Events,
    children: &mut [Running],
    others: &[String],
    budget: Duration,
) {
    let mut waiting: HashSet<String> =
        children.iter().map(|c| c.name.clone()).chain(others.iter().cloned()).collect();
    let deadline = tokio::time::Instant::now() + budget;
    while !waiting.is_empty() && tokio::time::Instant::now() < deadline {
        // A process that exited will never register.
        waiting.retain(|name| {
            others.contains(name) || children.iter().any(|c| &c.name == name && c.exit.borrow().is_none())
        });
        let tick = (tokio::time::Instant::now() + Duration::from_millis(20)).min(deadline);
        match tokio::time::timeout_at(tick, events.recv()).await {
            Ok(Ok(PlatformEvent::ExtensionRegistered { name, .. })) => {
                waiting.remove(&name);
            }
            Ok(Err(RecvError::Closed)) => return,
            _ => {}
        }
    }
}
