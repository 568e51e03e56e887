//! `bootstrap`: a Lambda custom runtime that runs a handler written in any
//! language. See [`HELP`] for what it does and how it is configured.

mod answers;
mod command;
mod group;
mod web;
mod worker;
mod worker_lines;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use lambda_sansio::runtime::RuntimeConfig;
use lambda_sansio::ErrorReport;
use lambda_sansio_blocking::{
    config_from_env, on_sigterm, report_init_error, run_with, Context, HandlerError, Response, RunError,
};

const HELP: &str = r#"bootstrap: a Lambda custom runtime that runs a handler written in any language.

Put it at the root of the function (provided.al2023) and set the function's
Handler setting (_HANDLER) to the command to run, for example
  python3 handler.py      ./my-binary      jq .name

Command mode (the default): for each invocation, _HANDLER runs as a shell
command in LAMBDA_TASK_ROOT with the event on its standard input. What it
writes to standard output is the response (at most 6 MiB); what it writes to
standard error goes to the function's logs. A non-zero exit reports an
error with the end of its standard error; printing a Lambda error object
({"errorType": ..., "errorMessage": ...}) and exiting non-zero reports
that error. The handler is stopped 100 ms before the invocation's deadline
(reported as Function.Timeout), and nothing it started outlives it. It gets
LAMBDA_REQUEST_ID, LAMBDA_DEADLINE_MS (epoch milliseconds) and
_X_AMZN_TRACE_ID.

Worker mode (LAMBDA_SANSIO_MODE=worker): _HANDLER starts once, at init, as
one long-lived process (so a Python or Node.js handler keeps its warm state
and pays its start-up once). Protocol, one JSON object per line:
  - when ready, the worker writes {"ready": true} on file descriptor 3
    (exiting first, or taking over 10 s, fails init);
  - each invocation arrives on its standard input:
    {"requestId", "deadlineMs", "invokedFunctionArn", "traceId",
     "clientContext", "identity", "tenantId", "event"} ("eventBase64"
     instead of "event" when the event is not JSON);
  - it answers on fd 3 with {"requestId", "response": <JSON>}, or
    {"requestId", "responseBase64": "..."}, or
    {"requestId", "error": {"errorType", "errorMessage"}};
  - its standard output and error are its logs.
Answers may come in any order. A worker that exits fails what is in flight
and is started again; one that misses a deadline is killed (with its process
group), the invocation reported as Function.Timeout, and started again. At
shutdown the worker gets SIGTERM and 300 ms to exit, then SIGKILL.

With AWS_LAMBDA_MAX_CONCURRENCY (Lambda Managed Instances) that many
invocations run at once: each its own command, or all in flight to the one
worker (answers matched by requestId).

Web mode (LAMBDA_SANSIO_MODE=web, or any AWS_LWA_* variable set): _HANDLER
starts an unmodified web app once, at init (for example
  gunicorn -b 127.0.0.1:8080 app:app      node server.js      ./server
in its own process group, with PORT set when it is not), and init waits
until it is ready: GET on the readiness path answers below status 500, or a
TCP connection is accepted (an app that exits first, or is not ready within
10 s, fails init). Each API Gateway (REST or HTTP API), Application Load
Balancer or Function URL event becomes an HTTP request to the app over a
kept-alive connection, with the headers x-amzn-request-context (the
event's request context) and x-amzn-lambda-context (request id, deadline,
ARN, trace id); the app's answer becomes the event's answer (binary bodies
as base64, cookies, multi-value headers). Other events (SQS, SNS,
EventBridge, ...) are POSTed as they are to the pass-through path and the
app's answer body is the response. A malformed HTTP event is answered 400.
An app that does not answer by the deadline, exits, closes the connection,
sends invalid HTTP or more than 6 MB fails that invocation with a clear
error (Function.Timeout, Function.WebAppExited, Function.WebAppConnectionLost,
Function.WebAppInvalidResponse, Function.WebAppUnreachable,
Function.ResponseSizeTooLarge); an app that exited is started again for the
next one. The Lambda Web Adapter's settings are read with the same meanings
and defaults:
  AWS_LWA_PORT (else PORT, else 8080)        the app's port
  AWS_LWA_READINESS_CHECK_PORT               default: the app's port
  AWS_LWA_READINESS_CHECK_PATH               default: /
  AWS_LWA_READINESS_CHECK_PROTOCOL           http (default) or tcp
  AWS_LWA_READINESS_CHECK_MIN_UNHEALTHY_STATUS  default: 500
  AWS_LWA_PASS_THROUGH_PATH                  default: /events
  AWS_LWA_INVOKE_MODE                        buffered (default) or
                                             response_stream (Function URLs
                                             streaming up to 200 MB)
  AWS_LWA_REMOVE_BASE_PATH                   a prefix taken off every path
  AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH=true  take an HTTP API's stage off
Other AWS_LWA_* variables (compression, async init, authorization source)
are not supported: each gets a warning line at init.

Environment: _HANDLER (required), LAMBDA_SANSIO_MODE (command, the default,
worker or web), LAMBDA_TASK_ROOT, AWS_LAMBDA_RUNTIME_API and the rest of
what Lambda sets.
Options: -h, --help.
"#;

fn main() -> ExitCode {
    if std::env::args().skip(1).any(|arg| arg == "-h" || arg == "--help") {
        #[allow(clippy::print_stdout)] // --help is read on standard output
        {
            print!("{HELP}");
        }
        return ExitCode::SUCCESS;
    }
    let handler = std::env::var("_HANDLER").unwrap_or_default();
    if handler.trim().is_empty() {
        let cause = "_HANDLER is not set or empty: set the function's Handler to the command to run (see bootstrap --help)";
        init_failed(ErrorReport::new("Runtime.NoHandler", cause));
        return ExitCode::FAILURE;
    }
    let task_root = PathBuf::from(std::env::var("LAMBDA_TASK_ROOT").unwrap_or_else(|_| ".".into()));
    let web_asked = std::env::vars().any(|(name, _)| name.starts_with("AWS_LWA_"));
    let default_mode = if web_asked { "web" } else { "command" };
    let mode = std::env::var("LAMBDA_SANSIO_MODE").unwrap_or_else(|_| default_mode.into());
    let served = match mode.as_str() {
        "command" => run(move |payload, context| command::invoke(&handler, &task_root, &payload, context)),
        "worker" => match worker::Worker::start(&handler, &task_root) {
            Ok(worker) => {
                let worker = Arc::new(worker);
                forward_sigterm(Arc::clone(&worker));
                run(move |payload, context| worker.invoke(&payload, context))
            }
            Err(cause) => {
                init_failed(ErrorReport::new("Runtime.WorkerFailed", cause));
                return ExitCode::FAILURE;
            }
        },
        "web" => {
            // SIGTERM is asked for first, so its registration with the
            // Extensions API overlaps the app's start instead of following
            // it; the hook finds the app once it runs.
            let app: Arc<OnceLock<Arc<web::Web>>> = Arc::new(OnceLock::new());
            let stopping = Arc::clone(&app);
            let hook = move || {
                if let Some(web) = stopping.get() {
                    web.stop(WORKER_GRACE);
                }
            };
            if let Err(error) = on_sigterm(hook) {
                eprintln!("bootstrap: warning: SIGTERM will not reach the web app at shutdown: {error}");
            }
            match start_web(&handler, &task_root) {
                Ok(web) => {
                    let web = Arc::new(web);
                    let _ = app.set(Arc::clone(&web));
                    run(move |payload, context| web.invoke(&payload, context))
                }
                Err(cause) => {
                    init_failed(ErrorReport::new("Runtime.WebAppFailed", cause));
                    return ExitCode::FAILURE;
                }
            }
        }
        other => {
            let cause = format!(
                "LAMBDA_SANSIO_MODE={other:?} is not a mode: use command, worker or web (see bootstrap --help)"
            );
            init_failed(ErrorReport::new("Runtime.BadMode", cause));
            return ExitCode::FAILURE;
        }
    };
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bootstrap: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Reads web mode's settings, warns about the adapter's settings it does not
/// read, and starts the app.
fn start_web(handler: &str, task_root: &std::path::Path) -> Result<web::Web, String> {
    let config = web::WebConfig::from_lookup(|name| std::env::var(name).ok())?;
    for warning in web::WebConfig::unsupported(std::env::vars().map(|(name, _)| name)) {
        eprintln!("bootstrap: warning: {warning}");
    }
    web::Web::start(handler, task_root, config)
}

/// How long a worker has to exit after SIGTERM at shutdown: within the
/// runtime's 500 ms budget with an internal extension.
const WORKER_GRACE: Duration = Duration::from_millis(300);

/// Registers for SIGTERM (an internal extension, so Lambda sends it) and
/// passes it on to the worker's process group at shutdown.
fn forward_sigterm(worker: Arc<worker::Worker>) {
    if let Err(error) = on_sigterm(move || worker.stop(WORKER_GRACE)) {
        eprintln!("bootstrap: warning: SIGTERM will not reach the worker at shutdown: {error}");
    }
}

/// Serves every invocation with `handler` until the runtime must exit.
/// bootstrap's own environment is left alone: each mode hands the trace id
/// to the handler itself (the command's environment, the worker line, the
/// web request), and setting `_X_AMZN_TRACE_ID` here would keep every trace
/// id in memory for the life of the process (glibc never frees a value
/// `setenv` was given).
fn run<F, R>(handler: F) -> Result<(), RunError>
where
    F: Fn(Bytes, &Context) -> Result<R, HandlerError> + Send + Sync + 'static,
    R: Into<Response>,
{
    run_with(RuntimeConfig { trace_id_env: false, ..config_from_env()? }, handler)
}

/// Prints the cause of a failed init, then reports it to Lambda.
fn init_failed(report: ErrorReport) {
    eprintln!("bootstrap: init failed: {}", report.error_message);
    if let Err(error) = report_init_error(report) {
        eprintln!("bootstrap: the init error could not be reported either: {error}");
    }
}
