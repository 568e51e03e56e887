//! The forwarder, shared by the threads that feed it (the telemetry
//! listener, the sidecar), the one that empties it (the sink) and the one
//! that waits on its gate (the extension's lifecycle).

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use lambda_sansio::forward::{Batch, Forwarder, ForwarderEvent, ForwarderStats};

/// Longest sleep between two looks at the forwarder's timers.
const MAX_WAIT: Duration = Duration::from_secs(1);

/// A [`Forwarder`] behind a lock, with a condition variable that wakes
/// every waiter after each change.
pub(crate) struct Shared {
    forwarder: Mutex<Forwarder>,
    changed: Condvar,
}

impl Shared {
    pub(crate) fn new(forwarder: Forwarder) -> Self {
        Self { forwarder: Mutex::new(forwarder), changed: Condvar::new() }
    }

    fn lock(&self) -> MutexGuard<'_, Forwarder> {
        self.forwarder.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Changes the forwarder (given the time) and wakes the waiters.
    pub(crate) fn update<R>(&self, change: impl FnOnce(&mut Forwarder, Instant) -> R) -> R {
        let result = change(&mut self.lock(), Instant::now());
        self.changed.notify_all();
        result
    }

    /// The counts so far.
    pub(crate) fn stats(&self) -> ForwarderStats {
        self.lock().stats()
    }

    /// Blocks until the forwarder emits an event (its gate opened).
    pub(crate) fn next_event(&self) -> ForwarderEvent {
        self.wait_for(Forwarder::poll_event)
    }

    /// Blocks until the forwarder has a batch for the sink.
    pub(crate) fn next_batch(&self) -> Batch {
        self.wait_for(Forwarder::poll_batch)
    }

    fn wait_for<T>(&self, mut poll: impl FnMut(&mut Forwarder) -> Option<T>) -> T {
        let mut forwarder = self.lock();
        loop {
            let now = Instant::now();
            forwarder.handle_timeout(now);
            if let Some(found) = poll(&mut forwarder) {
                drop(forwarder);
                self.changed.notify_all();
                return found;
            }
            let wait = forwarder.poll_timeout().map_or(MAX_WAIT, |at| at.saturating_duration_since(now));
            let (guard, _) = self
                .changed
                .wait_timeout(forwarder, wait.clamp(Duration::from_millis(1), MAX_WAIT))
                .unwrap_or_else(PoisonError::into_inner);
            forwarder = guard;
        }
    }
}
