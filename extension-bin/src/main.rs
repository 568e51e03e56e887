//! `lambda-sansio-extension`: a Lambda extension that forwards the
//! function's telemetry to a sink without losing records when the
//! environment freezes or shuts down. See `--help`.

use std::process::ExitCode;

mod config;
mod lifecycle;
mod shared;
mod sidecar;
mod sink;
mod time;

const NAME: &str = "lambda-sansio-extension";

const HELP: &str = "\
lambda-sansio-extension: forwards a Lambda function's telemetry to a sink,
losing no record when the environment freezes or shuts down.

Put it in a layer's extensions/ folder (it lands in /opt/extensions); Lambda
starts it. It subscribes to the Telemetry API, and holds each invocation's
end until that invocation's records are at the sink (at most
LAMBDA_SANSIO_FLUSH_BUDGET_MS once the platform.runtimeDone record arrived,
and never while the sink is failing); at SHUTDOWN it waits for the last
reports and sends everything before its deadline. When the sink is down,
records wait in a bounded queue; the oldest are dropped first, and a record
counting them is sent once the sink is back.

The function may POST its own records (JSON objects, or arrays of them) to
http://127.0.0.1:2775/records; GET /health and GET /stats (received,
forwarded, dropped, queued, failedBatches) answer there too.

Settings (environment variables of the function):
  LAMBDA_SANSIO_SINK            stdout (default), file, http or otlp; otlp is
                                the default when OTEL_EXPORTER_OTLP_ENDPOINT
                                is set.
  LAMBDA_SANSIO_SINK_FILE       file: the file JSON lines are appended to.
  LAMBDA_SANSIO_SINK_URL        http: the http:// or https:// endpoint batches
                                are POSTed to, as JSON arrays of records.
  OTEL_EXPORTER_OTLP_ENDPOINT   otlp: the collector's base URL (http://…:4318);
                                logs go to /v1/logs, invocation spans to
                                /v1/traces (OTLP/HTTP, JSON encoding).
  OTEL_EXPORTER_OTLP_LOGS_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
                                otlp: full URLs per signal.
  OTEL_EXPORTER_OTLP_HEADERS    otlp: key=value pairs, comma-separated.
  OTEL_SERVICE_NAME             otlp: service.name (default: the function's).
  LAMBDA_SANSIO_SINK_CA_FILE, OTEL_EXPORTER_OTLP_CERTIFICATE
                                https: a PEM file of CAs to trust besides the
                                system's bundle.
  LAMBDA_SANSIO_TYPES           what to forward: platform, function,
                                extension, comma-separated (default: platform
                                for stdout, platform,function otherwise;
                                extension is refused with stdout, whose output
                                would come back as extension records).
  LAMBDA_SANSIO_SIDECAR_PORT    the sidecar's port on 127.0.0.1 (default 2775;
                                off to disable; e.g. 2772 to take the port of
                                AWS's IPC extension example).
  LAMBDA_SANSIO_TELEMETRY_PORT  the Telemetry API listener's port (default: any).
  LAMBDA_SANSIO_MAX_QUEUED      records kept while the sink is behind
                                (default 10000).
  LAMBDA_SANSIO_FLUSH_BUDGET_MS longest an invocation's end waits for the sink
                                (default 500).
  LAMBDA_SANSIO_HOLD            on (default) or off. Holding an invocation's
                                end until its records arrived and are at the
                                sink adds the platform's buffering (about
                                25 ms) to each invocation; off, they go at
                                the next wake-up instead (SHUTDOWN still
                                waits for everything).
  LAMBDA_SANSIO_SINK_TIMEOUT_MS connect, read and write timeout of the http and
                                otlp sinks (default 2000).

Delivery is at least once: a batch the sink did not acknowledge is sent
again, so a sink may see a record twice (its time, type and requestId
identify it). At exit it prints one line to standard error: records
received, forwarded, dropped and left undelivered.

Options:
  -h, --help      Print this help.
  -V, --version   Print the version.
";

fn main() -> ExitCode {
    if let Some(arg) = std::env::args().nth(1) {
        return match arg.as_str() {
            "-h" | "--help" => {
                print(HELP);
                ExitCode::SUCCESS
            }
            "-V" | "--version" => {
                print(&format!("{NAME} {}\n", env!("CARGO_PKG_VERSION")));
                ExitCode::SUCCESS
            }
            other => {
                eprintln!("{NAME}: unknown argument {other:?}; Lambda starts this extension without arguments (see --help)");
                ExitCode::from(2)
            }
        };
    }
    let settings = match config::settings(|name| std::env::var(name).ok()) {
        Ok(settings) => settings,
        Err(problem) => {
            eprintln!("{NAME}: {problem}");
            return ExitCode::FAILURE;
        }
    };
    match lifecycle::run(&settings) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{NAME}: {error}");
            ExitCode::FAILURE
        }
    }
}

fn print(text: &str) {
    use std::io::Write;
    let _ = std::io::stdout().write_all(text.as_bytes());
}

/// The extension's name: its executable's file name, as Lambda requires.
fn own_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| NAME.to_owned())
}

/// A line on standard error (which Lambda sends to the function's logs).
fn say(message: &str) {
    eprintln!("{NAME}: {message}");
}

/// The shared pieces, for the modules.
pub(crate) use shared::Shared;
