//! End-to-end benchmark: echo functions driven through the emulator, one
//! after another, in the same run so that their figures compare.
//!
//! ```text
//! cargo build --release --workspace --examples
//! target/release/examples/bench_e2e [--invocations N] [--rounds R] [--split] [--event FILE] NAME=PATH...
//! ```
//!
//! `--event FILE` sends that event instead of the 1 KiB JSON payload (an
//! HTTP event, for HTTP handlers).
//!
//! `--split` puts a proxy between the function and the emulator that writes
//! each answer's head and body in separate segments with Nagle's algorithm
//! on, as some servers do: a keep-alive client that does not acknowledge
//! the head at once then waits for the delayed-ACK timer on every answer.
//!
//! Rounds are interleaved across the functions. For each function:
//! invocations per second (sequential, 1 KiB payload), CPU time per
//! invocation of the function's processes (the bootstrap and what it
//! started: live threads from `schedstat`, reaped children from
//! `cutime`/`cstime`), time from exec to the first `next`, peak resident
//! memory (`VmHWM`, added up over the processes) and the binary's size. Each figure is the
//! median over the rounds; the last column block gives ratios against the
//! first function named.

#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bytes::Bytes;
use lambda_sansio_emulator::{Emulator, EmulatorConfig, InvokeOutcome};
use lambda_sansio_test_support::bench_cli::{finish, value, Asked};
use lambda_sansio_test_support::usage::{cpu_ns, median, peak_kib};

struct Sample {
    per_second: f64,
    cpu_us: f64,
    startup_ms: f64,
    peak_kib: f64,
}

/// Forwards connections to `upstream`; from upstream to the client, each
/// read is written as two segments, split after the first blank line (the
/// end of an answer's head), with Nagle's algorithm on.
async fn splitting_proxy(upstream: std::net::SocketAddr) -> Result<String, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let address = listener.local_addr().map_err(|e| e.to_string())?.to_string();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = tokio::net::TcpStream::connect(upstream).await else { continue };
            let _ = client.set_nodelay(false);
            let _ = server.set_nodelay(true);
            let (mut client_read, mut client_write) = client.into_split();
            let (mut server_read, mut server_write) = server.into_split();
            tokio::spawn(async move {
                let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
            });
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 64 * 1024];
                while let Ok(read @ 1..) = server_read.read(&mut buffer).await {
                    let data = &buffer[..read];
                    let split =
                        data.windows(4).position(|w| w == b"\r\n\r\n").map_or(data.len(), |at| at + 4);
                    for piece in [&data[..split], &data[split..]] {
                        if !piece.is_empty() && client_write.write_all(piece).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    Ok(address)
}

async fn measure(
    path: &std::path::Path,
    invocations: u32,
    split: bool,
    payload: &Bytes,
) -> Result<Sample, String> {
    // The proxy needs the emulator's address, which needs a port first.
    let port =
        std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?;
    let mut env = Vec::new();
    if split {
        env.push(("AWS_LAMBDA_RUNTIME_API".to_owned(), splitting_proxy(port).await?));
    }
    let config = EmulatorConfig {
        bootstrap: Some(path.to_path_buf()),
        register_wait: Duration::ZERO,
        bind: port,
        env,
        ..Default::default()
    };
    let emulator = Emulator::start(config).await.map_err(|e| e.to_string())?;
    let pid = emulator.runtime_pid().ok_or("the function's process id is unknown")?;
    // Warm up, and wait for the first next.
    for _ in 0..20 {
        match emulator.invoke(payload.clone()).await.map_err(|e| e.to_string())? {
            InvokeOutcome::Response(_) => {}
            other => return Err(format!("{}: {other}", path.display())),
        }
    }
    let startup = emulator.time_to_first_next().ok_or("the function never asked for an invocation")?;
    let cpu_before = cpu_ns(pid);
    let started = Instant::now();
    for _ in 0..invocations {
        match emulator.invoke(payload.clone()).await.map_err(|e| e.to_string())? {
            InvokeOutcome::Response(_) => {}
            other => return Err(format!("{}: {other}", path.display())),
        }
    }
    let elapsed = started.elapsed();
    let cpu = cpu_ns(pid).saturating_sub(cpu_before);
    let peak = peak_kib(pid);
    emulator.shutdown().await;
    Ok(Sample {
        per_second: f64::from(invocations) / elapsed.as_secs_f64(),
        cpu_us: cpu as f64 / f64::from(invocations) / 1000.0,
        startup_ms: startup.as_secs_f64() * 1000.0,
        peak_kib: peak,
    })
}

/// The size of the binary at `path`; `None` for a script (a wrapper that
/// starts something else, whose own size says nothing) or a missing file.
fn binary_kib(path: &std::path::Path) -> Option<f64> {
    let bytes = std::fs::read(path).ok()?;
    (!bytes.starts_with(b"#!")).then(|| bytes.len() as f64 / 1024.0)
}

const USAGE: &str = "\
usage: bench_e2e [--invocations N] [--rounds R] [--split] [--event FILE] NAME=PATH...

Drives each function (NAME=PATH, the first one the baseline) through the
emulator, rounds interleaved, and prints a table of medians: invocations per
second, CPU per invocation of the function's processes, exec to first next,
peak RSS, binary size (\"-\" for a script), and ratios against the baseline.

  --invocations N   invocations per round (default 2000)
  --rounds R        rounds (default 3)
  --split           answers written in two segments, Nagle on
  --event FILE      send this event instead of a 1 KiB JSON payload
  -h, --help        this text";

#[tokio::main]
async fn main() -> ExitCode {
    finish("bench_e2e", USAGE, run().await)
}

async fn run() -> Result<Asked, String> {
    let mut invocations = 2000;
    let mut rounds = 3;
    let mut split = false;
    let mut payload = Bytes::from(format!("{{\"data\":\"{}\"}}", "x".repeat(1010)));
    let mut functions: Vec<(String, PathBuf)> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(Asked::Help),
            "--invocations" => invocations = value("--invocations", "a number of invocations", &mut args)?,
            "--rounds" => rounds = value("--rounds", "a number of rounds", &mut args)?,
            "--split" => split = true,
            "--event" => {
                let file: String = value("--event", "a file", &mut args)?;
                payload = Bytes::from(
                    std::fs::read(&file).map_err(|e| format!("the event {file} could not be read: {e}"))?,
                );
            }
            spec => {
                let (name, path) = spec
                    .split_once('=')
                    .ok_or_else(|| format!("\"{spec}\" is neither an option nor NAME=PATH; see --help"))?;
                functions.push((name.to_owned(), PathBuf::from(path)));
            }
        }
    }
    if functions.is_empty() {
        return Err("name at least one function as NAME=PATH; see --help".into());
    }
    let mut rows = Vec::new();
    // Rounds are interleaved (every function once per round, in turn), so a
    // machine that drifts during the run weighs on every function alike.
    let mut all: Vec<Vec<Sample>> = functions.iter().map(|_| Vec::new()).collect();
    for _ in 0..rounds {
        for ((_, path), samples) in functions.iter().zip(&mut all) {
            samples.push(measure(path, invocations, split, &payload).await?);
        }
    }
    for ((name, path), samples) in functions.iter().zip(all) {
        let size_kib = binary_kib(path);
        rows.push((
            name.clone(),
            median(samples.iter().map(|s| s.per_second).collect()),
            median(samples.iter().map(|s| s.cpu_us).collect()),
            median(samples.iter().map(|s| s.startup_ms).collect()),
            median(samples.iter().map(|s| s.peak_kib).collect()),
            size_kib,
        ));
    }
    let mode = if split { ", answers split in two segments" } else { "" };
    println!("{invocations} invocations x {rounds} rounds{mode}, medians; ratios against {}", rows[0].0);
    println!("| function | inv/s | CPU µs/inv | exec→first next ms | peak RSS KiB | binary KiB | CPU ratio | startup ratio | size ratio |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let base = (rows[0].2, rows[0].3, rows[0].5);
    for (name, per_second, cpu, startup, peak, size) in &rows {
        let (size, size_ratio) = match (size, base.2) {
            (Some(size), Some(base)) => (format!("{size:.0}"), format!("{:.2}", size / base)),
            (Some(size), None) => (format!("{size:.0}"), "-".to_owned()),
            (None, _) => ("-".to_owned(), "-".to_owned()),
        };
        println!(
            "| {name} | {per_second:.0} | {cpu:.1} | {startup:.2} | {peak:.0} | {size} | {:.2} | {:.2} | {size_ratio} |",
            cpu / base.0,
            startup / base.1,
        );
    }
    Ok(Asked::Ran)
}
