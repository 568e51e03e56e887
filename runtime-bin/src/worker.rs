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

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use bytes::Bytes;
use lambda_sansio::ErrorReport;
use lambda_sansio_blocking::{Context, HandlerError, Response};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use serde_json::{json, Value};

use crate::command::MARGIN;

/// Longest answer line read: a 6 MiB response as base64, and its envelope.
const MAX_LINE: usize = 9 * 1024 * 1024;
/// How long a worker may take to say it is ready, at init.
const READY_WITHIN: Duration = Duration::from_secs(10);

/// What an invocation waits for.
type Answer = Result<Response, ErrorReport>;

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
    waiting: Arc<Mutex<HashMap<String, mpsc::Sender<Answer>>>>,
    dead: Arc<Mutex<Option<String>>>,
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
        let waiting = Arc::new(Mutex::new(HashMap::new()));
        let dead = Arc::new(Mutex::new(None));
        let (ready, is_ready) = mpsc::channel();
        let reader = Reader { waiting: Arc::clone(&waiting), dead: Arc::clone(&dead) };
        thread::Builder::new()
            .name("bootstrap-worker-answers".into())
            .spawn(move || reader.run(answers, &ready))
            .map_err(|e| format!("could not start a thread: {e}"))?;
        let mut running = Running { child, stdin, waiting, dead };
        let waited = is_ready.recv_timeout(READY_WITHIN);
        if waited.is_ok() {
            return Ok(running);
        }
        running.kill();
        let status = running.child.wait().map_or_else(|e| e.to_string(), |s| s.to_string());
        Err(match waited {
            Err(mpsc::RecvTimeoutError::Timeout) => format!(
                "the worker did not write {{\"ready\":true}} on fd 3 within {} s, and was stopped",
                READY_WITHIN.as_secs()
            ),
            _ => format!("the worker exited before it was ready ({status}); its stderr above says why"),
        })
    }

    /// Hands one invocation to the worker and waits for its answer, at most
    /// until the deadline minus the margin.
    pub(crate) fn invoke(&self, payload: &Bytes, context: &Context) -> Result<Response, HandlerError> {
        let id = context.request_id.as_str().to_owned();
        let (answer, arrives) = mpsc::channel();
        {
            let mut state = self.lock();
            if state.as_ref().is_none_or(Running::is_dead) {
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
            running.waiting.lock().unwrap_or_else(PoisonError::into_inner).insert(id.clone(), answer);
            let mut line = invocation_line(payload, context);
            line.push('\n');
            if let Err(e) = running.stdin.write_all(line.as_bytes()).and_then(|()| running.stdin.flush()) {
                running.waiting.lock().unwrap_or_else(PoisonError::into_inner).remove(&id);
                drop(state.take());
                return Err(HandlerError::new(
                    "Runtime.WorkerExited",
                    format!("the worker stopped reading: {e}"),
                ));
            }
        }
        let budget = context
            .deadline
            .map(|d| d.duration_since(SystemTime::now()).unwrap_or_default().saturating_sub(MARGIN));
        let received = match budget {
            Some(budget) => {
                arrives.recv_timeout(budget).map_err(|e| matches!(e, mpsc::RecvTimeoutError::Timeout))
            }
            None => arrives.recv().map_err(|_| false),
        };
        match received {
            Ok(answer) => answer.map_err(HandlerError),
            Err(true) => {
                // Gone at once (killed, its group too, and waited for), so the
                // next invocation starts a fresh worker rather than writing
                // to this one before its end has been noticed.
                drop(self.lock().take());
                Err(HandlerError::new(
                    "Function.Timeout",
                    "Task timed out: the worker did not answer before the deadline and was restarted",
                ))
            }
            Err(false) => Err(HandlerError::new("Runtime.WorkerExited", "the worker ended before answering")),
        }
    }
}

impl Worker {
    /// At shutdown: SIGTERM to the worker's process group, up to `grace` for
    /// it to exit, then SIGKILL.
    pub(crate) fn stop(&self, grace: Duration) {
        let Some(mut running) = self.lock().take() else { return };
        let Ok(pid) = i32::try_from(running.child.id()) else { return };
        let group = Pid::from_raw(pid);
        let _ = killpg(group, Signal::SIGTERM);
        // The whole group, not just the shell that started the worker: the
        // worker itself may still be cleaning up after its shell has gone.
        let until = std::time::Instant::now() + grace;
        while std::time::Instant::now() < until {
            let _ = running.child.try_wait();
            if killpg(group, None).is_err() {
                break;
            }
            thread::sleep(Duration::from_millis(5));
        }
        // Dropping kills what is left of the group.
        drop(running);
    }
}

impl Running {
    fn is_dead(&self) -> bool {
        self.dead.lock().unwrap_or_else(PoisonError::into_inner).is_some()
    }

    /// Kills the worker's process group; the reader then fails whatever
    /// is in flight.
    fn kill(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        }
        let _ = self.child.try_wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill();
        let _ = self.child.wait();
    }
}

/// Reads answer lines and hands each to the invocation it names.
struct Reader {
    waiting: Arc<Mutex<HashMap<String, mpsc::Sender<Answer>>>>,
    dead: Arc<Mutex<Option<String>>>,
}

impl Reader {
    fn run(self, answers: impl Read, ready: &mpsc::Sender<()>) {
        let mut lines = BufReader::new(answers);
        let mut line = Vec::new();
        let why = loop {
            line.clear();
            match lines.by_ref().take(MAX_LINE as u64 + 1).read_until(b'\n', &mut line) {
                Ok(0) => break "the worker exited".to_owned(),
                Err(e) => break format!("its answers could not be read: {e}"),
                Ok(_) if line.len() > MAX_LINE => {
                    break format!("it wrote an answer line over {MAX_LINE} bytes")
                }
                Ok(_) => {}
            }
            match parse_answer(&line) {
                Ok(Parsed::Ready) => {
                    let _ = ready.send(());
                }
                Ok(Parsed::Answer(id, answer)) => {
                    let waiter = self.waiting.lock().unwrap_or_else(PoisonError::into_inner).remove(&id);
                    match waiter {
                        Some(waiter) => {
                            let _ = waiter.send(answer);
                        }
                        None => {
                            eprintln!("bootstrap: the worker answered {id}, which is not waiting; ignored")
                        }
                    }
                }
                Err(problem) => {
                    eprintln!("bootstrap: the worker wrote a line that is not an answer ({problem}); ignored")
                }
            }
        };
        *self.dead.lock().unwrap_or_else(PoisonError::into_inner) = Some(why.clone());
        let waiting = std::mem::take(&mut *self.waiting.lock().unwrap_or_else(PoisonError::into_inner));
        for (_, waiter) in waiting {
            let report = ErrorReport::new(
                "Runtime.WorkerExited",
                format!("{why} before answering; it will be started again"),
            );
            let _ = waiter.send(Err(report));
        }
    }
}

/// One line from the worker.
enum Parsed {
    Ready,
    Answer(String, Answer),
}

fn parse_answer(line: &[u8]) -> Result<Parsed, String> {
    let value: Value = serde_json::from_slice(line).map_err(|e| format!("not JSON: {e}"))?;
    if value.get("ready").and_then(Value::as_bool) == Some(true) {
        return Ok(Parsed::Ready);
    }
    let id = value.get("requestId").and_then(Value::as_str).ok_or("no requestId")?.to_owned();
    if let Some(error) = value.get("error") {
        let error_type = error.get("errorType").and_then(Value::as_str).unwrap_or("Function.Error");
        let message = error.get("errorMessage").and_then(Value::as_str).unwrap_or_default();
        return Ok(Parsed::Answer(id, Err(ErrorReport::new(error_type, message))));
    }
    if let Some(encoded) = value.get("responseBase64").and_then(Value::as_str) {
        let body = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|e| format!("bad base64: {e}"))?;
        return Ok(Parsed::Answer(id, Ok(Response::Buffered(Bytes::from(body)))));
    }
    let response = value.get("response").ok_or("neither response, responseBase64 nor error")?;
    Ok(Parsed::Answer(id, Ok(Response::json(Bytes::from(response.to_string())))))
}

/// The invocation as one JSON line: the event embedded when it is JSON,
/// else as base64.
fn invocation_line(payload: &Bytes, context: &Context) -> String {
    let deadline_ms = context
        .deadline
        .and_then(|d| d.duration_since(UNIX_EPOCH).ok())
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let mut line = json!({
        "requestId": context.request_id.as_str(),
        "deadlineMs": deadline_ms,
        "invokedFunctionArn": context.invoked_function_arn,
        "traceId": context.trace_id,
        "clientContext": context.client_context.as_ref().and_then(|c| serde_json::to_value(c).ok()),
        "identity": context.identity.as_ref().and_then(|i| serde_json::to_value(i).ok()),
        "tenantId": context.tenant_id,
    });
    match serde_json::from_slice::<Value>(payload) {
        Ok(event) => line["event"] = event,
        Err(_) => {
            line["eventBase64"] = Value::String(base64::engine::general_purpose::STANDARD.encode(payload))
        }
    }
    line.to_string()
}
