//! Web adapter benchmark: the same app (`bench/web_app.py`) behind this
//! project's `bootstrap` in web mode and behind another adapter binary (the
//! Lambda Web Adapter's `lambda-adapter`, run as Lambda runs it: an
//! extension that is also the runtime client, the app started by the
//! function's bootstrap), driven through the emulator with the same API
//! Gateway HTTP API events, rounds interleaved.
//!
//! ```text
//! target/release/examples/bench_web [--requests N] [--rounds R] --app 'python3 bench/web_app.py' \
//!     --bootstrap target/release/bootstrap --adapter target/bench-tools/bin/lambda-adapter
//! ```
//!
//! Figures per adapter, medians over the rounds: CPU time per request of
//! the adapter process alone (not the app), added latency per request (the
//! median invocation minus the median direct request to the app over a
//! kept-alive connection, measured in the same round), init (starting the
//! processes to the first `next`, readiness check included), the adapter's
//! peak RSS, and its binary's size.

#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use lambda_sansio::http::{event_from_request, EventShape, HttpSource, SynthContext};
use lambda_sansio_blocking::http1::Connection;
use lambda_sansio_emulator::{Emulator, EmulatorConfig, InvokeOutcome};
use lambda_sansio_test_support::bench_cli::{finish, value, Asked};
use lambda_sansio_test_support::usage::{median, own_cpu_ns, own_peak_kib};

struct Sample {
    cpu_us: f64,
    added_us: f64,
    init_ms: f64,
    first_next_ms: f64,
    peak_kib: f64,
}

enum Adapter {
    /// `bootstrap` in web mode.
    Ours(PathBuf),
    /// An adapter that runs as an extension next to the app.
    Extension(PathBuf),
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

/// A bootstrap script that only starts the app (the adapter is elsewhere).
fn app_bootstrap(app: &str) -> Result<PathBuf, String> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::temp_dir().join(format!("bench-web-app-{}.sh", std::process::id()));
    std::fs::write(&path, format!("#!/bin/sh\nexec {app}\n")).map_err(|e| e.to_string())?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())?;
    Ok(path)
}

fn direct_latencies(port: u16, requests: u32) -> Result<Vec<f64>, String> {
    let mut connection = Connection::new(format!("127.0.0.1:{port}"), 1024 * 1024);
    let request =
        Request::get("/hello").header("host", "localhost").body(Bytes::new()).map_err(|e| e.to_string())?;
    let mut latencies = Vec::new();
    for _ in 0..requests {
        let started = Instant::now();
        connection.send(&request).map_err(|e| e.to_string())?;
        latencies.push(started.elapsed().as_secs_f64() * 1e6);
    }
    Ok(latencies)
}

async fn measure(adapter: &Adapter, app: &str, requests: u32) -> Result<Sample, String> {
    let port = free_port()?;
    let mut env = vec![("AWS_LWA_PORT".to_owned(), port.to_string())];
    let config = match adapter {
        Adapter::Ours(bootstrap) => {
            env.push(("LAMBDA_SANSIO_MODE".to_owned(), "web".to_owned()));
            EmulatorConfig {
                bootstrap: Some(bootstrap.clone()),
                handler: app.to_owned(),
                ..EmulatorConfig::default()
            }
        }
        Adapter::Extension(binary) => EmulatorConfig {
            bootstrap: Some(app_bootstrap(app)?),
            extensions: vec![binary.clone()],
            ..EmulatorConfig::default()
        },
    };
    let config = EmulatorConfig { env, freeze: false, register_wait: Duration::from_secs(5), ..config };
    let emulator = Emulator::start(config).await.map_err(|e| e.to_string())?;
    let request =
        Request::get("/hello").header("host", "example.com").body(Bytes::new()).map_err(|e| e.to_string())?;
    let event = event_from_request(EventShape::of(HttpSource::HttpApi), &request, &SynthContext::default());
    for _ in 0..50 {
        match emulator.invoke(event.clone()).await.map_err(|e| e.to_string())? {
            InvokeOutcome::Response(_) => {}
            other => return Err(format!("a warm-up request failed: {other}")),
        }
    }
    let init_ms = emulator.init_duration().ok_or("no init")?.as_secs_f64() * 1000.0;
    let first_next_ms = emulator.time_to_first_next().ok_or("no first next")?.as_secs_f64() * 1000.0;
    let pid = match adapter {
        Adapter::Ours(_) => emulator.runtime_pid().ok_or("no runtime pid")?,
        Adapter::Extension(_) => {
            emulator.extension_usage().first().map(|(_, usage)| usage.pid).ok_or("no extension")?
        }
    };
    let cpu_before = own_cpu_ns(pid);
    let mut latencies = Vec::new();
    for _ in 0..requests {
        let started = Instant::now();
        emulator.invoke(event.clone()).await.map_err(|e| e.to_string())?;
        latencies.push(started.elapsed().as_secs_f64() * 1e6);
    }
    let cpu = own_cpu_ns(pid).saturating_sub(cpu_before);
    let peak_kib = own_peak_kib(pid);
    let direct = tokio::task::spawn_blocking(move || direct_latencies(port, requests))
        .await
        .map_err(|e| e.to_string())??;
    emulator.shutdown().await;
    Ok(Sample {
        cpu_us: cpu as f64 / f64::from(requests) / 1000.0,
        added_us: median(latencies) - median(direct),
        init_ms,
        first_next_ms,
        peak_kib,
    })
}

fn size_kib(path: &Path) -> f64 {
    std::fs::metadata(path).map(|m| m.len() as f64 / 1024.0).unwrap_or(0.0)
}

const USAGE: &str = "\
usage: bench_web [--requests N] [--rounds R] --app CMD --bootstrap PATH --adapter PATH

Runs the same app (CMD) behind bootstrap's web mode and behind another
adapter (run as Lambda runs it: an extension that is also the runtime
client), rounds interleaved, and prints medians: CPU per request of the
adapter process, added latency, init, exec to first next, peak RSS, size.

  --requests N      requests per round (default 2000)
  --rounds R        rounds (default 3)
  --app CMD         the web app's command line
  --bootstrap PATH  this project's bootstrap
  --adapter PATH    the adapter to compare with
  -h, --help        this text";

#[tokio::main]
async fn main() -> ExitCode {
    finish("bench_web", USAGE, run().await)
}

async fn run() -> Result<Asked, String> {
    let (mut requests, mut rounds) = (2000, 3);
    let (mut app, mut ours, mut theirs) = (None, None, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(Asked::Help),
            "--requests" => requests = value("--requests", "a number of requests", &mut args)?,
            "--rounds" => rounds = value("--rounds", "a number of rounds", &mut args)?,
            "--app" => app = Some(value::<String>("--app", "a command line", &mut args)?),
            "--bootstrap" => ours = Some(value::<PathBuf>("--bootstrap", "a path", &mut args)?),
            "--adapter" => theirs = Some(value::<PathBuf>("--adapter", "a path", &mut args)?),
            other => return Err(format!("unknown argument \"{other}\"; see --help")),
        }
    }
    let missing = |option: &str| format!("{option} is required; see --help");
    let app = app.ok_or_else(|| missing("--app CMD"))?;
    let ours = ours.ok_or_else(|| missing("--bootstrap PATH"))?;
    let theirs = theirs.ok_or_else(|| missing("--adapter PATH"))?;
    let adapters = [
        ("bootstrap web mode", Adapter::Ours(ours.clone())),
        ("lambda-adapter", Adapter::Extension(theirs.clone())),
    ];
    let mut all: Vec<Vec<Sample>> = adapters.iter().map(|_| Vec::new()).collect();
    for _ in 0..rounds {
        for ((_, adapter), samples) in adapters.iter().zip(&mut all) {
            samples.push(measure(adapter, &app, requests).await?);
        }
    }
    println!("{requests} requests x {rounds} rounds, medians; ratios against lambda-adapter");
    println!("| adapter | CPU µs/request | added latency µs | init ms | bootstrap exec→first next ms | peak RSS KiB | binary KiB |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let mut rows = Vec::new();
    for (((name, _), samples), path) in adapters.iter().zip(&all).zip([&ours, &theirs]) {
        let row = (
            median(samples.iter().map(|s| s.cpu_us).collect()),
            median(samples.iter().map(|s| s.added_us).collect()),
            median(samples.iter().map(|s| s.init_ms).collect()),
            median(samples.iter().map(|s| s.first_next_ms).collect()),
            median(samples.iter().map(|s| s.peak_kib).collect()),
            size_kib(path),
        );
        println!(
            "| {name} | {:.1} | {:.1} | {:.1} | {:.1} | {:.0} | {:.0} |",
            row.0, row.1, row.2, row.3, row.4, row.5
        );
        rows.push(row);
    }
    let (a, b) = (rows[0], rows[1]);
    println!(
        "| ratio | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
        a.0 / b.0,
        a.1 / b.1,
        a.2 / b.2,
        a.3 / b.3,
        a.4 / b.4,
        a.5 / b.5
    );
    Ok(Asked::Ran)
}
