//! Load runs: many invocations, sent as fast as the function takes them,
//! and a summary of how it went (latency percentiles, throughput, errors by
//! type, and what the function's processes used).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::{Emulator, InvokeOutcome};

/// What to send.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    /// The events, sent in order, `repeat` times over.
    pub events: Vec<Bytes>,
    /// How many times the list is sent.
    pub repeat: u32,
    /// Invocations kept in flight (the function's concurrency: 1 in classic
    /// mode, where the platform queues the rest anyway).
    pub in_flight: usize,
    /// Idle time after each invocation before the next (the environment
    /// stays frozen meanwhile, when freezing is on).
    pub idle: Duration,
}

impl LoadPlan {
    /// How many invocations the plan makes.
    pub fn total(&self) -> u64 {
        self.events.len() as u64 * u64::from(self.repeat)
    }
}

/// Latency percentiles, in milliseconds (nearest rank).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest.
    pub max: f64,
}

/// How a load run went.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LoadSummary {
    /// Invocations made.
    pub invocations: u64,
    /// Invocations answered with a response.
    pub succeeded: u64,
    /// Failed invocations by error type (`Function.Timeout` style types as
    /// the function reported them; `Sandbox.Timedout` for a timeout the
    /// platform called, `Emulator.Aborted` for an aborted one).
    pub errors: BTreeMap<String, u64>,
    /// Time from sending to the outcome.
    pub latency_ms: Latency,
    /// Wall time of the whole run.
    pub elapsed: Duration,
    /// Peak resident memory of the function's processes, in MB.
    pub peak_rss_mb: u64,
    /// CPU time of the function's processes, per invocation, in milliseconds.
    pub cpu_ms_per_invocation: f64,
}

impl LoadSummary {
    /// Invocations per second.
    pub fn throughput(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.invocations as f64 / seconds
        } else {
            0.0
        }
    }

    /// The summary as one JSON object.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "invocations": self.invocations,
            "succeeded": self.succeeded,
            "errors": self.errors,
            "latencyMs": {
                "p50": self.latency_ms.p50,
                "p90": self.latency_ms.p90,
                "p99": self.latency_ms.p99,
                "max": self.latency_ms.max,
            },
            "elapsedSeconds": self.elapsed.as_secs_f64(),
            "throughputPerSecond": self.throughput(),
            "peakRssMb": self.peak_rss_mb,
            "cpuMsPerInvocation": self.cpu_ms_per_invocation,
        })
    }
}

impl std::fmt::Display for LoadSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let l = &self.latency_ms;
        writeln!(f, "invocations        {:>10}", self.invocations)?;
        writeln!(f, "succeeded          {:>10}", self.succeeded)?;
        for (error_type, count) in &self.errors {
            writeln!(f, "failed             {count:>10}  {error_type}")?;
        }
        writeln!(f, "latency p50        {:>10.3} ms", l.p50)?;
        writeln!(f, "latency p90        {:>10.3} ms", l.p90)?;
        writeln!(f, "latency p99        {:>10.3} ms", l.p99)?;
        writeln!(f, "latency max        {:>10.3} ms", l.max)?;
        writeln!(f, "throughput         {:>10.1} invocations/s", self.throughput())?;
        writeln!(f, "elapsed            {:>10.3} s", self.elapsed.as_secs_f64())?;
        writeln!(f, "function peak RSS  {:>10} MB", self.peak_rss_mb)?;
        write!(f, "function CPU       {:>10.3} ms per invocation", self.cpu_ms_per_invocation)
    }
}

/// Runs `plan` against `emulator`, calling `progress(done, total)` after
/// each outcome.
pub async fn run(emulator: &Emulator, plan: &LoadPlan, mut progress: impl FnMut(u64, u64)) -> LoadSummary {
    let total = plan.total();
    let before = emulator.function_usage();
    let pid_before = emulator.runtime_pid();
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let events: Arc<[Bytes]> = plan.events.clone().into();
    let (done, mut outcomes) = mpsc::unbounded_channel();
    for _ in 0..plan.in_flight.max(1) {
        let (invoker, next, events, done) =
            (emulator.invoker(), Arc::clone(&next), Arc::clone(&events), done.clone());
        let idle = plan.idle;
        tokio::spawn(async move {
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index as u64 >= total || events.is_empty() {
                    return;
                }
                let payload = events[index % events.len()].clone();
                let sent = Instant::now();
                let outcome = invoker.invoke(payload).await;
                if done.send((sent.elapsed(), outcome)).is_err() {
                    return;
                }
                if !idle.is_zero() {
                    tokio::time::sleep(idle).await;
                }
            }
        });
    }
    drop(done);
    let mut summary = LoadSummary::default();
    let mut latencies = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    while let Some((latency, outcome)) = outcomes.recv().await {
        summary.invocations += 1;
        latencies.push(latency);
        match outcome {
            Ok(InvokeOutcome::Response(_)) => summary.succeeded += 1,
            Ok(InvokeOutcome::Error(error_type, _)) => *summary.errors.entry(error_type).or_default() += 1,
            Ok(InvokeOutcome::TimedOut) => *summary.errors.entry("Sandbox.Timedout".into()).or_default() += 1,
            Ok(InvokeOutcome::Aborted(_)) | Err(_) => {
                *summary.errors.entry("Emulator.Aborted".into()).or_default() += 1
            }
        }
        progress(summary.invocations, total);
    }
    summary.elapsed = started.elapsed();
    let after = emulator.function_usage();
    // A function that was replaced mid-run (a crash, a timeout) is counted
    // from its replacement's start.
    let cpu =
        if emulator.runtime_pid() == pid_before { after.cpu.saturating_sub(before.cpu) } else { after.cpu };
    summary.peak_rss_mb = after.peak_rss_mb.max(before.peak_rss_mb);
    if summary.invocations > 0 {
        summary.cpu_ms_per_invocation = cpu.as_secs_f64() * 1000.0 / summary.invocations as f64;
    }
    summary.latency_ms = percentiles(&mut latencies);
    summary
}

/// Nearest-rank percentiles of `latencies`, in milliseconds.
fn percentiles(latencies: &mut [Duration]) -> Latency {
    latencies.sort_unstable();
    let at = |p: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let rank = ((p / 100.0) * latencies.len() as f64).ceil() as usize;
        latencies[rank.clamp(1, latencies.len()) - 1].as_secs_f64() * 1000.0
    };
    Latency { p50: at(50.0), p90: at(90.0), p99: at(99.0), max: at(100.0) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let mut latencies: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        let l = percentiles(&mut latencies);
        assert_eq!((l.p50, l.p90, l.p99, l.max), (50.0, 90.0, 99.0, 100.0));
        assert_eq!(percentiles(&mut []), Latency::default());
        let mut one = [Duration::from_millis(7)];
        assert_eq!(percentiles(&mut one).p50, 7.0);
    }
}
