//! The forwarder benchmark: telemetry forwarders run as the external
//! extension of one function, through the emulator (freezing on), in the
//! same run so that their figures compare. `bench/forwarder.sh` builds
//! everything and runs it.
//!
//! ```text
//! target/release/examples/bench_forwarder [--invocations N] [--rounds R] [--no-freeze] NAME=PATH...
//! ```
//!
//! The function is `blocking_logging` (one log line per invocation); each
//! forwarder sends platform and function records to a local HTTP sink as
//! JSON arrays. Rounds are interleaved, and a round without any extension
//! gives the baseline init time. For each forwarder: the init time it
//! adds (the emulator's init duration, as `platform.initReport` gives it,
//! minus the baseline's), its peak resident memory, its CPU time per
//! forwarded record (exact, from `schedstat`), and how many records reached
//! the sink out of how many the platform produced. Each figure is the
//! median over the rounds.

#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use lambda_sansio_emulator::{Emulator, EmulatorConfig, InvokeOutcome};
use lambda_sansio_test_support::bench_cli::{finish, value, Asked};
use lambda_sansio_test_support::sink::{Availability, SinkServer};
use lambda_sansio_test_support::usage::{cpu_ns, median};

struct Sample {
    init_ms: f64,
    peak_kib: f64,
    cpu_ns: f64,
    records: f64,
    batches: f64,
    /// Median `durationMs` of the reports (the invocation, extensions' work
    /// after the answer included, as Lambda bills it).
    duration_ms: f64,
}

/// One round of `invocations` with `extension` (or none).
async fn measure(
    bootstrap: &Path,
    extension: Option<&Path>,
    invocations: u32,
    freeze: bool,
) -> Result<Sample, String> {
    let sink = SinkServer::start(Availability::Up);
    let env = vec![
        ("LAMBDA_SANSIO_SINK".to_owned(), "http".to_owned()),
        ("LAMBDA_SANSIO_SINK_URL".to_owned(), format!("{}/ingest", sink.url)),
        ("LAMBDA_SANSIO_TYPES".to_owned(), "platform,function".to_owned()),
        ("LAMBDA_SANSIO_SIDECAR_PORT".to_owned(), "off".to_owned()),
    ];
    let config = EmulatorConfig {
        bootstrap: Some(bootstrap.to_path_buf()),
        extensions: extension.map(Path::to_path_buf).into_iter().collect(),
        env,
        freeze,
        ..EmulatorConfig::default()
    };
    let emulator = Emulator::start(config).await.map_err(|e| e.to_string())?;
    for _ in 0..invocations {
        match emulator.invoke(Bytes::from_static(b"{\"bench\":true}")).await.map_err(|e| e.to_string())? {
            InvokeOutcome::Response(_) => {}
            other => return Err(format!("an invocation did not succeed: {other}")),
        }
    }
    let init_ms = emulator.init_duration().map_or(0.0, |d| d.as_secs_f64() * 1e3);
    let usage = emulator.extension_usage().first().map(|(_, usage)| *usage);
    let (peak_kib, cpu) = usage.map_or((0.0, 0), |u| (u.peak_rss_kib as f64, cpu_ns(u.pid)));
    emulator.shutdown().await;
    // The shutdown's last batch has been answered by now.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let all = sink.records("/ingest");
    let durations = all
        .iter()
        .filter(|r| r["type"] == "platform.report")
        .filter_map(|r| r["record"]["metrics"]["durationMs"].as_f64())
        .collect();
    let batches = sink.bodies("/ingest").len() as f64;
    Ok(Sample {
        init_ms,
        peak_kib,
        cpu_ns: cpu as f64,
        records: all.len() as f64,
        batches,
        duration_ms: median(durations),
    })
}

fn example(name: &str) -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let path = exe.parent().ok_or("no examples directory")?.join(name);
    path.exists().then_some(path).ok_or_else(|| format!("{name} is not built: see bench/forwarder.sh"))
}

const USAGE: &str = "\
usage: bench_forwarder [--invocations N] [--rounds R] [--no-freeze] NAME=PATH...

Runs each telemetry forwarder (NAME=PATH) as the external extension of one
function through the emulator, rounds interleaved, and prints medians: the
init time it adds, its peak RSS, its CPU per forwarded record, and how many
records reached the sink. bench/forwarder.sh builds everything and runs it.

  --invocations N   invocations per round (default 500)
  --rounds R        rounds (default 3)
  --no-freeze       do not freeze the environment between invocations
  -h, --help        this text";

#[tokio::main]
async fn main() -> ExitCode {
    finish("bench_forwarder", USAGE, run().await)
}

async fn run() -> Result<Asked, String> {
    let mut args = std::env::args().skip(1);
    let (mut invocations, mut rounds, mut forwarders, mut freeze) = (500u32, 3usize, Vec::new(), true);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(Asked::Help),
            "--invocations" => invocations = value("--invocations", "a number of invocations", &mut args)?,
            "--rounds" => rounds = value("--rounds", "a number of rounds", &mut args)?,
            "--no-freeze" => freeze = false,
            spec => {
                let (name, path) = spec
                    .split_once('=')
                    .ok_or_else(|| format!("\"{spec}\" is neither an option nor NAME=PATH; see --help"))?;
                forwarders.push((name.to_owned(), PathBuf::from(path)));
            }
        }
    }
    if forwarders.is_empty() {
        return Err("name at least one forwarder as NAME=PATH; see --help".into());
    }
    let bootstrap = example("blocking_logging")?;
    let mut baseline = Vec::new();
    let mut samples: Vec<Vec<Sample>> = forwarders.iter().map(|_| Vec::new()).collect();
    for round in 0..rounds {
        baseline.push(measure(&bootstrap, None, invocations, freeze).await?.init_ms);
        for offset in 0..forwarders.len() {
            let index = (round + offset) % forwarders.len();
            samples[index].push(measure(&bootstrap, Some(&forwarders[index].1), invocations, freeze).await?);
        }
    }
    // Per invocation the platform produces start, runtimeDone, report and
    // the function's line; plus the two init records.
    let produced = f64::from(invocations) * 4.0 + 2.0;
    let base_init = median(baseline);
    println!("{invocations} invocations x {rounds} rounds; init without an extension {base_init:.2} ms; {produced} records produced");
    println!(
        "{:<24} {:>13} {:>9} {:>14} {:>13} {:>16} {:>8} {:>12} {:>9}",
        "forwarder",
        "init added ms",
        "peak KiB",
        "CPU us/record",
        "CPU us/batch",
        "records at sink",
        "batches",
        "duration ms",
        "size KiB"
    );
    for ((name, path), samples) in forwarders.iter().zip(samples) {
        let init = median(samples.iter().map(|s| s.init_ms).collect()) - base_init;
        let peak = median(samples.iter().map(|s| s.peak_kib).collect());
        let per_record = median(samples.iter().map(|s| s.cpu_ns / s.records.max(1.0) / 1e3).collect());
        let per_batch = median(samples.iter().map(|s| s.cpu_ns / s.batches.max(1.0) / 1e3).collect());
        let records = median(samples.iter().map(|s| s.records).collect());
        let batches = median(samples.iter().map(|s| s.batches).collect());
        let duration = median(samples.iter().map(|s| s.duration_ms).collect());
        let size = std::fs::metadata(path).map_or(0.0, |m| m.len() as f64 / 1024.0);
        println!(
            "{name:<24} {init:>13.2} {peak:>9.0} {per_record:>14.2} {per_batch:>13.1} {records:>10.0}/{produced:<5.0} {batches:>8.0} {duration:>12.2} {size:>9.0}"
        );
    }
    Ok(Asked::Ran)
}
