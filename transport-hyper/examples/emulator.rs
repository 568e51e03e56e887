//! Runs a function locally against the emulator.
//!
//! ```text
//! cargo run -p lambda-sansio-hyper --example emulator -- \
//!     --bootstrap PATH [--handler HANDLER] [--extensions DIR] [--extension PATH]...
//!     [--concurrency N] [--timeout SECS]
//!     [--port PORT] [--fault N=500|N=reset|N=truncate|N=delay:MS]...
//!     [--invoke JSON]...
//! ```
//!
//! With `--invoke`, it sends each payload, prints each outcome and shuts down;
//! otherwise it serves until Ctrl-C. Invoke it from another shell with
//! `curl -d '{}' http://127.0.0.1:PORT/2015-03-31/functions/function/invocations`.

#![allow(clippy::print_stdout)]

use std::net::SocketAddr;
use std::num::NonZeroU16;
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use lambda_sansio::runtime::Mode;
use lambda_sansio_hyper::emulator::{Emulator, EmulatorConfig, InvokeOutcome, INVOKE_PATH};

fn usage(problem: &str) -> ExitCode {
    eprintln!("emulator: {problem}");
    eprintln!(
        "usage: emulator --bootstrap PATH [--handler HANDLER] [--extensions DIR] [--extension PATH]... \
         [--concurrency N] [--timeout SECS] [--port PORT] \
         [--fault N=FAULT]... [--invoke JSON]..."
    );
    ExitCode::from(2)
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut config = EmulatorConfig::default();
    let mut invokes: Vec<String> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let Some(value) = args.next() else { return usage(&format!("{flag} needs a value")) };
        match flag.as_str() {
            "--bootstrap" => config.bootstrap = Some(value.into()),
            "--extensions" => config.extensions_dir = Some(value.into()),
            "--extension" => config.extensions.push(value.into()),
            "--handler" => config.handler = value,
            "--concurrency" => match value.parse::<NonZeroU16>() {
                Ok(max) => config.mode = Mode::Concurrent { max },
                Err(_) => return usage("--concurrency takes a positive number"),
            },
            "--timeout" => match value.parse::<f64>() {
                Ok(secs) if secs > 0.0 => config.timeout = Duration::from_secs_f64(secs),
                _ => return usage("--timeout takes positive seconds"),
            },
            "--port" => match value.parse::<u16>() {
                Ok(port) => config.bind = SocketAddr::from(([127, 0, 0, 1], port)),
                Err(_) => return usage("--port takes a port number"),
            },
            "--fault" => match value.parse() {
                Ok(rule) => config.faults.push(rule),
                Err(problem) => return usage(&problem),
            },
            "--invoke" => invokes.push(value),
            other => return usage(&format!("unknown flag {other}")),
        }
    }
    if config.bootstrap.is_none() {
        return usage("--bootstrap is required");
    }
    let emulator = match Emulator::start(config).await {
        Ok(emulator) => emulator,
        Err(error) => {
            eprintln!("emulator: {error}");
            return ExitCode::FAILURE;
        }
    };
    let address = emulator.address();
    eprintln!("emulator: Lambda APIs on http://{address} (AWS_LAMBDA_RUNTIME_API={address})");
    eprintln!("emulator: invoke with POST http://{address}{INVOKE_PATH}");
    let mut failed = false;
    if invokes.is_empty() {
        let _ = tokio::signal::ctrl_c().await;
    } else {
        for payload in invokes {
            match emulator.invoke(Bytes::from(payload)).await {
                Ok(InvokeOutcome::Response(body)) => println!("{}", String::from_utf8_lossy(&body)),
                Ok(other) => {
                    failed = true;
                    println!("{other:?}");
                }
                Err(error) => {
                    failed = true;
                    eprintln!("emulator: {error}");
                }
            }
        }
    }
    for (name, status, killed) in emulator.shutdown().await.processes {
        let how = if killed { " (SIGKILL)" } else { "" };
        eprintln!(
            "emulator: {name} exited: {}{how}",
            status.map_or_else(|| "unknown".into(), |s| s.to_string())
        );
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
