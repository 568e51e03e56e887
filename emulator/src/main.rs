//! `lambda-sansio-emulator`: run a Lambda function on this machine.

#![allow(clippy::print_stdout)]

use std::net::SocketAddr;
use std::num::NonZeroU16;
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use lambda_sansio::runtime::Mode;
use lambda_sansio_emulator::{Emulator, EmulatorConfig, InvokeOutcome, ShutdownReport, INVOKE_PATH};

const HELP: &str = "\
lambda-sansio-emulator: run a Lambda function on this machine.

It serves the Lambda Runtime, Extensions and Telemetry APIs on 127.0.0.1,
starts the extensions, waits for them to register, starts the bootstrap with
the environment Lambda gives it, and forwards invocations to it. At the end
it shuts down as Lambda does: SHUTDOWN to the extensions, SIGTERM and then
SIGKILL within Lambda's budgets, to every process each of them started.

Usage:
  lambda-sansio-emulator --bootstrap PATH [OPTIONS] [--invoke JSON]...

With --invoke, it sends each payload in turn, prints each outcome and shuts
down (exit status 1 if any invocation failed). Without it, it serves until
Ctrl-C; invoke it from another shell with
  curl -d '{}' http://127.0.0.1:PORT/2015-03-31/functions/function/invocations

Options:
  --bootstrap PATH       The function's bootstrap executable (required).
  --handler TEXT         _HANDLER, the function's Handler setting.
  --function-name NAME   AWS_LAMBDA_FUNCTION_NAME (default: function).
  --memory MB            AWS_LAMBDA_FUNCTION_MEMORY_SIZE (default: 128).
  --timeout SECONDS      The function timeout (default: 30).
  --env KEY=VALUE        More environment for the processes (repeatable).
  --extensions DIR       Start every executable in DIR as an external
                         extension, as Lambda does with /opt/extensions.
  --extension PATH       Start one more external extension (repeatable).
  --concurrency N        Lambda Managed Instances: up to N invocations at once.
  --port PORT            Listen on this port (default: any free one).
  --fault N=FAULT        Fault injection for client testing, on the N-th API
                         request: N=500 (any status), N=reset, N=truncate,
                         N=delay:MS (repeatable).
  --invoke JSON          Invoke with this payload (repeatable).
  -h, --help             Print this help.
";

/// What the command line asked for.
struct Args {
    config: EmulatorConfig,
    invokes: Vec<String>,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut config = EmulatorConfig::default();
    let mut invokes = Vec::new();
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            return Ok(None);
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--bootstrap" => config.bootstrap = Some(value.into()),
            "--handler" => config.handler = value,
            "--function-name" => config.function_name = value,
            "--memory" => {
                config.memory_mb = value
                    .parse()
                    .ok()
                    .filter(|mb| (128..=10_240).contains(mb))
                    .ok_or("--memory takes megabytes from 128 to 10240")?
            }
            "--timeout" => match value.parse::<f64>() {
                Ok(secs) if secs > 0.0 && secs.is_finite() => config.timeout = Duration::from_secs_f64(secs),
                _ => return Err("--timeout takes a positive number of seconds".into()),
            },
            "--env" => {
                let (key, val) = value.split_once('=').ok_or("--env takes KEY=VALUE")?;
                if key.is_empty() {
                    return Err("--env takes KEY=VALUE with a non-empty KEY".into());
                }
                config.env.push((key.to_owned(), val.to_owned()));
            }
            "--extensions" => config.extensions_dir = Some(value.into()),
            "--extension" => config.extensions.push(value.into()),
            "--concurrency" => match value.parse::<NonZeroU16>() {
                Ok(max) => config.mode = Mode::Concurrent { max },
                Err(_) => return Err("--concurrency takes a number from 1 to 65535".into()),
            },
            "--port" => match value.parse::<u16>() {
                Ok(port) => config.bind = SocketAddr::from(([127, 0, 0, 1], port)),
                Err(_) => return Err("--port takes a port number".into()),
            },
            "--fault" => config.faults.push(value.parse()?),
            "--invoke" => invokes.push(value),
            other => return Err(format!("unknown option {other} (see --help)")),
        }
    }
    if config.bootstrap.is_none() {
        return Err("--bootstrap PATH is required (see --help)".into());
    }
    Ok(Some(Args { config, invokes }))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(problem) => {
            eprintln!("lambda-sansio-emulator: {problem}");
            return ExitCode::from(2);
        }
    };
    let emulator = match Emulator::start(args.config).await {
        Ok(emulator) => emulator,
        Err(error) => {
            eprintln!("lambda-sansio-emulator: {error}");
            return ExitCode::FAILURE;
        }
    };
    let address = emulator.address();
    eprintln!("lambda-sansio-emulator: Lambda APIs on http://{address} (AWS_LAMBDA_RUNTIME_API={address})");
    eprintln!("lambda-sansio-emulator: invoke with POST http://{address}{INVOKE_PATH}");
    let mut failed = false;
    if args.invokes.is_empty() {
        // Ctrl-C ends the wait; if the handler cannot be installed, stop now.
        let _ = tokio::signal::ctrl_c().await;
    }
    for payload in args.invokes {
        match emulator.invoke(Bytes::from(payload)).await {
            Ok(InvokeOutcome::Response(body)) => println!("{}", String::from_utf8_lossy(&body)),
            Ok(outcome) => {
                failed = true;
                println!("{}", describe(&outcome));
            }
            Err(error) => {
                failed = true;
                eprintln!("lambda-sansio-emulator: {error}");
            }
        }
    }
    report(&emulator.shutdown().await);
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// An invocation that did not succeed, as a sentence.
fn describe(outcome: &InvokeOutcome) -> String {
    match outcome {
        InvokeOutcome::Response(_) => "the invocation succeeded".into(),
        InvokeOutcome::Error(error_type, body) => {
            let message = serde_json::from_slice::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v.get("errorMessage").and_then(|m| m.as_str()).map(str::to_owned))
                .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
            format!("the invocation failed with {error_type}: {message}")
        }
        InvokeOutcome::TimedOut => "the invocation timed out".into(),
        InvokeOutcome::Aborted(reason) => format!("the invocation was aborted: {reason}"),
    }
}

/// One line per process: how it ended.
fn report(report: &ShutdownReport) {
    for (name, status, killed) in &report.processes {
        let how = match (status, killed) {
            (_, true) => "was killed with SIGKILL after its shutdown budget".to_owned(),
            (Some(status), false) => match (status.code(), signal_of(status)) {
                (Some(code), _) => format!("exited with status {code}"),
                (None, Some(signal)) => format!("was ended by signal {signal}"),
                (None, None) => "ended".to_owned(),
            },
            (None, false) => "ended; its exit status is unknown".to_owned(),
        };
        eprintln!("lambda-sansio-emulator: {name} {how}");
    }
}

fn signal_of(status: &std::process::ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    status.signal()
}
