//! Worker mode: one long-lived handler process, started at init and fed
//! invocations as JSON lines on its standard input; it answers with JSON
//! lines on file descriptor 3, by request id, in any order (several
//! invocations may be in flight under Managed Instances). Its standard
//! output and error are its logs, so a stray `print` never corrupts the
//! protocol. The protocol is described in `bootstrap --help`.
//!
//! A worker that exits or breaks the protocol fails the invocations in
//! flight with a clear error and is started again for the next one; one
//! that overruns a deadline is killed (its whole process group) and started
//! again. Exiting before it said it was ready is an init error.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use lambda_sansio_blocking::{Context, ContextExt, HandlerError, Response};

use crate::answers::{Answers, Waited};
use crate::command::MARGIN;
use crate::group;
use crate::worker_lines::invocation_line;

/// How long a worker may take to say it is ready, at init.
const READY_WITHIN: Duration = Duration::from_secs(10);

/// The worker process, shared by the handler threads.
pub(crate) struct Worker {
    handler: String,
    task_root: PathBuf,
    state: Mutex<Option<Running>>,
}

/// A started worker.
struct Running {
    child: Child,
    stdin: ChildStdin,
    answers: Arc<Answers>,
}

impl Worker {
    /// Starts the worker and waits until it says it is ready; an error is
    /// the cause of a failed init.
    pub(crate) fn start(handler: &str, task_root: &Path) -> Result<Self, String> {
        let worker =
            Self { handler: handler.to_owned(), task_root: task_root.to_owned(), state: Mutex::new(None) };
        let running = worker.spawn()?;
        *worker.lock() = Some(running);
        Ok(worker)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Running>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts the process: its stdout becomes fd 3 (the answers) and its
    /// own stdout goes to stderr (the logs), by the shell, without unsafe
    /// code. `_HANDLER` may be any shell command, a script of several lines
    /// included, so it is not `exec`ed.
    fn spawn(&self) -> Result<Running, String> {
        let script = format!("exec 3>&1 1>&2\n{}", self.handler);
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg(script)
            .current_dir(&self.task_root)
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("the worker could not start: {e}"))?;
        let (stdin, answers) = match (child.stdin.take(), child.stdout.take()) {
            (Some(stdin), Some(answers)) => (stdin, answers),
            _ => return Err("the worker's pipes could not be opened".into()),
        };
        let mut running = Running { child, stdin, answers: Arc::new(Answers::new(answers)) };
        let waited = running.answers.wait_ready(Instant::now() + READY_WITHIN);
        if waited.is_ok() {
            return Ok(running);
        }
        running.kill();
        let status = running.child.wait().map_or_else(|e| e.to_string(), |s| s.to_string());
        Err(match waited {
            Err(None) => format!(
                "the worker did not write {{\"ready\":true}} on fd 3 within {} s, and was stopped",
                READY_WITHIN.as_secs()
            ),
            _ => format!("the worker exited before it was ready ({status}); its stderr above says why"),
        })
    }

    /// Hands one invocation to the worker and waits for its answer, at most
    /// until the deadline minus the margin.
    pub(crate) fn invoke(&self, payload: &Bytes, context: &Context) -> Result<Response, HandlerError> {
        let started = Instant::now();
        let id = context.request_id.as_str();
        let answers = {
            let mut state = self.lock();
            if state.as_mut().is_none_or(Running::is_dead) {
                if let Some(mut old) = state.take() {
                    old.kill();
                }
                let running =
                    self.spawn().map_err(|cause| HandlerError::new("Runtime.WorkerFailed", cause))?;
                *state = Some(running);
            }
            let Some(running) = state.as_mut() else {
                return Err(HandlerError::new("Runtime.WorkerFailed", "the worker is not running"));
            };
            running.answers.expect(id);
            let mut line = invocation_line(payload, context);
            line.push(b'\n');
            if let Err(e) = running.stdin.write_all(&line).and_then(|()| running.stdin.flush()) {
                running.answers.forget(id);
                drop(state.take());
                return Err(HandlerError::new(
                    "Runtime.WorkerExited",
                    format!("the worker stopped reading: {e}"),
                ));
            }
            Arc::clone(&running.answers)
        };
        let until = context.remaining().map(|left| started + left.saturating_sub(MARGIN));
        match answers.wait(id, until) {
            Waited::Answer(answer) => answer.map_err(HandlerError),
            Waited::TimedOut => {
                // Gone at once (killed, its group too, and waited for), so the
                // next invocation starts a fresh worker rather than writing
                // to this one before its end has been noticed; a worker
                // started since by another invocation is left alone.
                let mut state = self.lock();
                if state.as_ref().is_some_and(|running| Arc::ptr_eq(&running.answers, &answers)) {
                    drop(state.take());
                }
                let seconds = started.elapsed().as_secs_f64();
                Err(HandlerError::new(
                    "Function.Timeout",
                    format!("Task timed out after {seconds:.2} seconds"),
                ))
            }
            Waited::Dead(why) => Err(HandlerError::new(
                "Runtime.WorkerExited",
                format!("{why} before answering; it will be started again"),
            )),
        }
    }
}

impl Worker {
    /// At shutdown: SIGTERM to the worker's process group, up to `grace` for
    /// it to exit, then SIGKILL.
    pub(crate) fn stop(&self, grace: Duration) {
        if let Some(mut running) = self.lock().take() {
            group::stop(&mut running.child, grace);
        }
    }
}

impl Running {
    /// The worker exited, or its answers ended.
    fn is_dead(&mut self) -> bool {
        self.answers.is_dead() || !matches!(self.child.try_wait(), Ok(None))
    }

    /// Kills the worker's process group (and reaps it); a waiting reader
    /// then fails whatever is in flight.
    fn kill(&mut self) {
        group::kill(&mut self.child);
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill();
    }
}
