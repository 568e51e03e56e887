//! Command mode: one process per invocation, run so that nothing it does can
//! hold up, truncate or outlive its answer.
//!
//! - The handler runs in a process group of its own. When it exits, what is
//!   left of its group is killed, so a background child cannot hold the
//!   answer (or outlive the invocation).
//! - At the deadline minus [`MARGIN`] the group gets SIGTERM, then SIGKILL
//!   after [`GRACE`], and the invocation is reported as `Function.Timeout`.
//! - The event is written from another thread, so a handler that never
//!   reads it cannot delay the answer.
//! - Standard output is read whole (never cut short, so the handler never
//!   sees SIGPIPE); more than the response limit is reported as
//!   `Function.ResponseSizeTooLarge`.
//! - A non-zero exit is reported with the tail of what the handler wrote to
//!   standard error (which also goes to the function's logs); a handler
//!   that printed a Lambda error object (`errorType`, `errorMessage`) gets
//!   that error reported as is.

use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use lambda_sansio::{ErrorReport, MAX_XRAY_CAUSE_LEN};
use lambda_sansio_blocking::{Context, HandlerError};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

/// How long before the deadline the handler is stopped, so that its
/// timeout can still be reported.
pub(crate) const MARGIN: Duration = Duration::from_millis(100);
/// How long a handler has between SIGTERM and SIGKILL.
pub(crate) const GRACE: Duration = Duration::from_millis(50);
/// The largest response Lambda accepts for a buffered answer.
const MAX_RESPONSE: usize = 6 * 1024 * 1024 + 100;
/// How much of the end of standard error goes into an error message.
const STDERR_TAIL: usize = 2 * 1024;

/// Runs `handler` (a shell command) for one invocation.
pub(crate) fn invoke(
    handler: &str,
    task_root: &Path,
    payload: &Bytes,
    context: &Context,
) -> Result<Bytes, HandlerError> {
    let started = Instant::now();
    let deadline_ms = context.deadline_ms().map_or_else(String::new, |ms| ms.to_string());
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg(handler)
        .current_dir(task_root)
        .env("LAMBDA_REQUEST_ID", context.request_id.as_str())
        .env("LAMBDA_DEADLINE_MS", deadline_ms)
        .env("_X_AMZN_TRACE_ID", context.trace_id.as_deref().unwrap_or_default())
        .process_group(0)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            HandlerError::new("Runtime.HandlerNotStarted", format!("the handler could not start: {e}"))
        })?;
    let group = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
    let io = Io::start(&mut child, payload.clone());
    let watchdog = Watchdog::start(group, context.deadline);
    let status = child.wait();
    // Whatever the handler left running goes now, so its pipes close.
    let _ = killpg(group, Signal::SIGKILL);
    let timed_out = watchdog.finish();
    let (output, stderr_tail) = io.finish();
    let status = status.map_err(|e| {
        HandlerError::new("Runtime.HandlerLost", format!("waiting for the handler failed: {e}"))
    })?;
    if timed_out {
        let seconds = started.elapsed().as_secs_f64();
        return Err(HandlerError::new(
            "Function.Timeout",
            format!("Task timed out after {seconds:.2} seconds"),
        ));
    }
    outcome(status, output, &stderr_tail)
}

/// The answer for a handler that ended on its own.
fn outcome(status: ExitStatus, output: Output, stderr_tail: &str) -> Result<Bytes, HandlerError> {
    if !status.success() {
        if let Some(report) = output.error_object() {
            return Err(HandlerError(report));
        }
        let how = match (status.code(), status.signal()) {
            (Some(code), _) => format!("exited with status {code}"),
            (None, Some(signal)) => format!("was ended by signal {signal}"),
            (None, None) => "ended abnormally".to_owned(),
        };
        let mut message = format!("The handler {how}.");
        if !stderr_tail.trim().is_empty() {
            message.push_str(" Its last output on standard error:\n");
            message.push_str(stderr_tail.trim_end());
        }
        return Err(HandlerError::new("Function.NonZeroExit", message));
    }
    if output.total > MAX_RESPONSE {
        return Err(HandlerError::new(
            "Function.ResponseSizeTooLarge",
            format!(
                "The handler wrote {} bytes; a response may have at most {MAX_RESPONSE} bytes.",
                output.total
            ),
        ));
    }
    Ok(Bytes::from(output.kept))
}

/// What the handler wrote to standard output: the first bytes (up to the
/// limit, plus one to tell an overflow) and how many there were in all.
#[derive(Default)]
struct Output {
    kept: Vec<u8>,
    total: usize,
}

impl Output {
    /// A Lambda error object printed as the whole output.
    fn error_object(&self) -> Option<ErrorReport> {
        if self.total > MAX_XRAY_CAUSE_LEN {
            return None;
        }
        let value: serde_json::Value = serde_json::from_slice(&self.kept).ok()?;
        let error_type = value.get("errorType")?.as_str()?;
        let message = value.get("errorMessage").and_then(|m| m.as_str()).unwrap_or_default();
        Some(ErrorReport::new(error_type, message))
    }
}

/// The threads that feed the handler's standard input and drain its
/// standard output and error.
struct Io {
    writer: thread::JoinHandle<()>,
    stdout: thread::JoinHandle<Output>,
    stderr: thread::JoinHandle<String>,
}

impl Io {
    fn start(child: &mut Child, event: Bytes) -> Self {
        let stdin = child.stdin.take();
        let writer = thread::spawn(move || {
            if let Some(mut stdin) = stdin {
                // A handler that does not read its event is not an error.
                let _ = stdin.write_all(&event);
            }
        });
        let stdout = child.stdout.take();
        let stdout = thread::spawn(move || {
            let mut output = Output::default();
            let Some(mut stdout) = stdout else { return output };
            let mut buffer = [0u8; 64 * 1024];
            while let Ok(read @ 1..) = stdout.read(&mut buffer) {
                output.total += read;
                let room = (MAX_RESPONSE + 1).saturating_sub(output.kept.len());
                output.kept.extend_from_slice(&buffer[..read.min(room)]);
            }
            output
        });
        let stderr = child.stderr.take();
        let stderr = thread::spawn(move || {
            let mut tail: Vec<u8> = Vec::new();
            let Some(mut source) = stderr else { return String::new() };
            let mut buffer = [0u8; 8 * 1024];
            while let Ok(read @ 1..) = source.read(&mut buffer) {
                // To the function's logs as it comes.
                let _ = std::io::stderr().write_all(&buffer[..read]);
                tail.extend_from_slice(&buffer[..read]);
                let excess = tail.len().saturating_sub(STDERR_TAIL);
                tail.drain(..excess);
            }
            String::from_utf8_lossy(&tail).into_owned()
        });
        Self { writer, stdout, stderr }
    }

    fn finish(self) -> (Output, String) {
        let _ = self.writer.join();
        let output = self.stdout.join().unwrap_or_default();
        let tail = self.stderr.join().unwrap_or_default();
        (output, tail)
    }
}

/// Stops the handler's process group at the deadline minus [`MARGIN`].
struct Watchdog {
    done: mpsc::Sender<()>,
    fired: thread::JoinHandle<bool>,
}

impl Watchdog {
    fn start(group: Pid, deadline: Option<SystemTime>) -> Self {
        let (done, finished) = mpsc::channel::<()>();
        let fired = thread::spawn(move || {
            let Some(deadline) = deadline else {
                // No deadline to enforce: wait for the end.
                let _ = finished.recv();
                return false;
            };
            let budget =
                deadline.duration_since(SystemTime::now()).unwrap_or_default().saturating_sub(MARGIN);
            match finished.recv_timeout(budget) {
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = killpg(group, Signal::SIGTERM);
                    if finished.recv_timeout(GRACE).is_err() {
                        let _ = killpg(group, Signal::SIGKILL);
                    }
                    true
                }
                _ => false,
            }
        });
        Self { done, fired }
    }

    /// The handler ended (on its own or killed): whether the deadline did it.
    fn finish(self) -> bool {
        let _ = self.done.send(());
        self.fired.join().unwrap_or(false)
    }
}
