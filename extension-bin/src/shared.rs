//! The forwarder and the sink, shared by the threads that feed them (the
//! telemetry listener's, the sidecar's), the one that waits on the gate (the
//! extension's lifecycle) and the one that keeps time (retries after a
//! back-off). Whoever hands records over also sends what is ready, on its
//! own thread: no hand-off to another thread on the common path.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use lambda_sansio::forward::{ForwardRecord, Forwarder, ForwarderEvent, ForwarderStats};

use crate::sink::Sink;

/// Longest sleep between two looks at the forwarder's timers.
const MAX_WAIT: Duration = Duration::from_secs(1);

/// A [`Forwarder`] and its sink behind locks. Two condition variables: one
/// wakes the lifecycle thread when the gate opens, the other the timer
/// thread when a back-off starts.
pub(crate) struct Shared {
    forwarder: Mutex<Forwarder>,
    sink: Mutex<Box<dyn Sink>>,
    /// The sink's last send failed (said once, and its recovery once).
    sink_down: AtomicBool,
    gate: Condvar,
    timer: Condvar,
}

impl Shared {
    pub(crate) fn new(forwarder: Forwarder, sink: Box<dyn Sink>) -> Self {
        Self {
            forwarder: Mutex::new(forwarder),
            sink: Mutex::new(sink),
            sink_down: AtomicBool::new(false),
            gate: Condvar::new(),
            timer: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Forwarder> {
        self.forwarder.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Changes the forwarder (given the time), then wakes the lifecycle
    /// thread if the gate opened.
    pub(crate) fn update<R>(&self, change: impl FnOnce(&mut Forwarder, Instant) -> R) -> R {
        let mut forwarder = self.lock();
        let result = change(&mut forwarder, Instant::now());
        let opened = forwarder.has_event();
        drop(forwarder);
        if opened {
            self.gate.notify_all();
        }
        result
    }

    /// Hands `records` over, then sends whatever is ready.
    pub(crate) fn receive(&self, records: Vec<ForwardRecord>) {
        self.update(|forwarder, now| forwarder.receive(records, now));
        self.send_ready();
    }

    /// Sends batches until none is ready (none queued, one in flight on
    /// another thread, or backing off). The sink's first failure and its
    /// recovery are each said once.
    pub(crate) fn send_ready(&self) {
        while let Some(batch) = self.update(|forwarder, _| forwarder.poll_batch()) {
            let mut sink = self.sink.lock().unwrap_or_else(PoisonError::into_inner);
            let sent = sink.send(&batch.records);
            self.update(|forwarder, now| match &sent {
                Ok(()) => forwarder.batch_sent(batch.id),
                Err(_) => forwarder.batch_failed(batch.id, now),
            });
            let was_down = self.sink_down.swap(sent.is_err(), Ordering::Relaxed);
            match sent {
                Ok(()) if was_down => {
                    crate::say(&format!("the sink {} takes records again", sink.describe()))
                }
                Ok(()) => {}
                Err(problem) => {
                    if !was_down {
                        crate::say(&format!("the sink failed ({problem}); retrying with back-off"));
                    }
                    self.timer.notify_all();
                    return;
                }
            }
        }
    }

    /// The counts so far.
    pub(crate) fn stats(&self) -> ForwarderStats {
        self.lock().stats()
    }

    /// Blocks until the forwarder emits an event (its gate opened), passing
    /// the time in as its waits end.
    pub(crate) fn next_event(&self) -> ForwarderEvent {
        let mut forwarder = self.lock();
        loop {
            let now = Instant::now();
            forwarder.handle_timeout(now);
            if let Some(event) = forwarder.poll_event() {
                return event;
            }
            let wait = forwarder.poll_timeout().map_or(MAX_WAIT, |at| at.saturating_duration_since(now));
            let (guard, _) = self
                .gate
                .wait_timeout(forwarder, wait.clamp(Duration::from_millis(1), MAX_WAIT))
                .unwrap_or_else(PoisonError::into_inner);
            forwarder = guard;
        }
    }

    /// Keeps time for ever: when a back-off ends, sends what waited.
    pub(crate) fn keep_time(&self) -> ! {
        loop {
            {
                let forwarder = self.lock();
                let now = Instant::now();
                let wait = forwarder.poll_timeout().map_or(MAX_WAIT, |at| at.saturating_duration_since(now));
                if !wait.is_zero() {
                    drop(
                        self.timer
                            .wait_timeout(forwarder, wait.min(MAX_WAIT))
                            .unwrap_or_else(PoisonError::into_inner),
                    );
                }
            }
            self.update(|forwarder, now| forwarder.handle_timeout(now));
            self.send_ready();
        }
    }
}
