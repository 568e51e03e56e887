//! What the emulator reports about the function's processes: the
//! resources they used, and how each ended at shutdown.

use std::process::ExitStatus;
use std::time::Duration;

use crate::OutputLine;

/// How each process ended at shutdown.
#[derive(Debug, Default)]
pub struct ShutdownReport {
    /// `(name, exit status if known, whether SIGKILL was needed)` for the
    /// bootstrap first, then each extension.
    pub processes: Vec<(String, Option<ExitStatus>, bool)>,
    /// How long the bootstrap had after SIGTERM; `None` when it got no
    /// SIGTERM (no extension registered: Lambda then kills the runtime at
    /// once).
    pub runtime_budget: Option<Duration>,
    /// How long each external extension had to exit after SHUTDOWN.
    pub extension_budget: Duration,
    /// Everything the processes wrote (see [`Emulator::output`](crate::Emulator::output)), to the
    /// last line.
    pub output: Vec<OutputLine>,
}

/// Resources one process (and what it started) used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProcessUsage {
    /// Its process id (for finer measures of its own).
    pub pid: u32,
    /// Peak resident memory, added up over the processes, in KiB.
    pub peak_rss_kib: u64,
    /// CPU time, user and system (in 10 ms ticks).
    pub cpu: Duration,
}

/// Resources the function's processes used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FunctionUsage {
    /// Peak resident memory, added up over the processes, in MB.
    pub peak_rss_mb: u64,
    /// CPU time, user and system.
    pub cpu: Duration,
}
