//! `bootstrap`: a Lambda custom runtime that runs a handler written in any
//! language. See [`HELP`] for what it does and how it is configured.

mod command;

use std::path::PathBuf;
use std::process::ExitCode;

use lambda_sansio::ErrorReport;
use lambda_sansio_blocking::{report_init_error, run};

const HELP: &str = "\
bootstrap: a Lambda custom runtime that runs a handler written in any language.

Put it at the root of the function (provided.al2023) and set the function's
Handler setting (_HANDLER) to the command to run, for example
  python3 handler.py      ./my-binary      jq .name

Command mode (the default): for each invocation, _HANDLER runs as a shell
command in LAMBDA_TASK_ROOT with the event on its standard input. What it
writes to standard output is the response (at most 6 MiB); what it writes to
standard error goes to the function's logs. A non-zero exit reports an
error with the end of its standard error; printing a Lambda error object
({\"errorType\": ..., \"errorMessage\": ...}) and exiting non-zero reports
that error. The handler is stopped 100 ms before the invocation's deadline
(reported as Function.Timeout), and nothing it started outlives it. It gets
LAMBDA_REQUEST_ID, LAMBDA_DEADLINE_MS (epoch milliseconds) and
_X_AMZN_TRACE_ID.

With AWS_LAMBDA_MAX_CONCURRENCY (Lambda Managed Instances) that many
invocations run at once.

Environment: _HANDLER (required), LAMBDA_TASK_ROOT, AWS_LAMBDA_RUNTIME_API
and the rest of what Lambda sets. Options: -h, --help.
";

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
    match run(move |payload, context| command::invoke(&handler, &task_root, &payload, context)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bootstrap: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Prints the cause of a failed init, then reports it to Lambda.
fn init_failed(report: ErrorReport) {
    eprintln!("bootstrap: init failed: {}", report.error_message);
    if let Err(error) = report_init_error(report) {
        eprintln!("bootstrap: the init error could not be reported either: {error}");
    }
}
