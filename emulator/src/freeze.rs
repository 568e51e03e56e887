//! Freezing the environment between invocations, as Lambda does: once the
//! platform machine says it may freeze ([`PlatformMachine::may_freeze`]),
//! every process of the environment is stopped (SIGSTOP) until the next
//! invocation or shutdown (SIGCONT), and no telemetry is delivered
//! meanwhile. This is what makes records lost at a freeze visible on one
//! machine.
//!
//! [`PlatformMachine::may_freeze`]: lambda_sansio::platform::PlatformMachine::may_freeze

use std::sync::{Arc, Mutex, PoisonError};

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use tokio::sync::watch;

/// Stops and resumes the environment's processes; cheap to clone.
#[derive(Clone)]
pub(crate) struct Freezer {
    inner: Arc<Mutex<Inner>>,
    frozen: Arc<watch::Sender<bool>>,
}

struct Inner {
    enabled: bool,
    /// The process group leaders of the environment (bootstrap, extensions).
    leaders: Vec<Pid>,
    frozen: bool,
    freezes: u64,
}

impl Freezer {
    /// A freezer that freezes only when `enabled`.
    pub(crate) fn new(enabled: bool) -> Self {
        let inner = Inner { enabled, leaders: Vec::new(), frozen: false, freezes: 0 };
        Self { inner: Arc::new(Mutex::new(inner)), frozen: Arc::new(watch::channel(false).0) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The processes of a new environment; the old one is thawed first.
    pub(crate) fn set_processes(&self, leaders: Vec<Pid>) {
        self.thaw();
        self.lock().leaders = leaders;
    }

    /// Stops every process of the environment, unless disabled or frozen.
    pub(crate) fn freeze(&self) {
        let mut inner = self.lock();
        if !inner.enabled || inner.frozen || inner.leaders.is_empty() {
            return;
        }
        inner.frozen = true;
        inner.freezes += 1;
        for leader in &inner.leaders {
            super::tree::signal_all(*leader, Signal::SIGSTOP);
        }
        self.frozen.send_replace(true);
    }

    /// Resumes every process of the environment, if frozen.
    pub(crate) fn thaw(&self) {
        let mut inner = self.lock();
        if !inner.frozen {
            return;
        }
        inner.frozen = false;
        for leader in &inner.leaders {
            super::tree::signal_all(*leader, Signal::SIGCONT);
        }
        self.frozen.send_replace(false);
    }

    /// How many times the environment was frozen.
    pub(crate) fn freezes(&self) -> u64 {
        self.lock().freezes
    }

    /// Whether the environment is frozen, as it changes.
    pub(crate) fn watch(&self) -> watch::Receiver<bool> {
        self.frozen.subscribe()
    }
}

/// Waits until `frozen` says the environment runs (at once if it does).
pub(crate) async fn until_thawed(frozen: &mut watch::Receiver<bool>) {
    let _ = frozen.wait_for(|frozen| !*frozen).await;
}
