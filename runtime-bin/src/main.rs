//! `bootstrap`: a custom runtime that runs `_HANDLER` as a shell command for
//! each invocation, in `LAMBDA_TASK_ROOT`, with the event on its standard
//! input. What it writes to standard output is the response; a non-zero exit
//! reports an error (`Function.NonZeroExit`) and what it wrote to standard
//! error goes to the function's logs. The invocation's request id, deadline
//! and trace id are in `LAMBDA_REQUEST_ID`, `LAMBDA_DEADLINE_MS` and
//! `_X_AMZN_TRACE_ID`.
//!
//! So `_HANDLER='python3 handler.py'`, `_HANDLER='./my-binary'` or
//! `_HANDLER='jq .name'` are all functions.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::UNIX_EPOCH;

use bytes::Bytes;
use lambda_sansio::ErrorReport;
use lambda_sansio_blocking::{report_init_error, run, Context, HandlerError};

/// The largest response read from the handler (the buffered response limit).
const MAX_RESPONSE: u64 = 6 * 1024 * 1024 + 100;

fn main() -> ExitCode {
    let handler = std::env::var("_HANDLER").unwrap_or_default();
    if handler.trim().is_empty() {
        let report =
            ErrorReport::new("Runtime.NoHandler", "_HANDLER is not set: it names the command to run");
        if let Err(error) = report_init_error(report) {
            eprintln!("bootstrap: {error}");
        }
        return ExitCode::FAILURE;
    }
    let task_root = PathBuf::from(std::env::var("LAMBDA_TASK_ROOT").unwrap_or_else(|_| ".".into()));
    match run(move |payload, context| invoke(&handler, &task_root, &payload, context)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bootstrap: {error}");
            ExitCode::FAILURE
        }
    }
}

fn invoke(
    handler: &str,
    task_root: &PathBuf,
    payload: &[u8],
    context: &Context,
) -> Result<Bytes, HandlerError> {
    let deadline_ms = context
        .deadline
        .and_then(|d| d.duration_since(UNIX_EPOCH).ok())
        .map_or_else(String::new, |d| d.as_millis().to_string());
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg(handler)
        .current_dir(task_root)
        .env("LAMBDA_REQUEST_ID", context.request_id.as_str())
        .env("LAMBDA_DEADLINE_MS", deadline_ms)
        .env("_X_AMZN_TRACE_ID", context.trace_id.as_deref().unwrap_or_default())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    // Write the event from another thread so a handler that answers before
    // reading all of its input cannot deadlock us.
    let mut stdin = child.stdin.take();
    let event = payload.to_vec();
    let writer = std::thread::spawn(move || {
        if let Some(stdin) = stdin.as_mut() {
            let _ = stdin.write_all(&event);
        }
    });
    let mut response = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        stdout.take(MAX_RESPONSE + 1).read_to_end(&mut response)?;
    }
    let status = child.wait()?;
    let _ = writer.join();
    if !status.success() {
        return Err(HandlerError::new(
            "Function.NonZeroExit",
            format!("the handler command failed: {status}"),
        ));
    }
    Ok(Bytes::from(response))
}
