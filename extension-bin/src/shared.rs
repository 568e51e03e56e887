//! The forwarder and the sink, shared by the threads that feed them (the
//! telemetry listener's, the sidecar's), the one that waits on the gate (the
//! extension's lifecycle) and the one that sends (the sender). Feeding only
//! queues: the platform's delivery is answered at once, never held up by a
//! slow or dead sink (Lambda drops records a listener does not take in
//! time).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use lambda_sansio::forward::{Batch, ForwardRecord, Forwarder, ForwarderEvent, ForwarderStats};

use crate::sink::Sink;

/// Longest sleep between two looks at the forwarder's timers.
const MAX_WAIT: Duration = Duration::from_secs(1);

/// A [`Forwarder`] and its sink behind locks. Two condition variables: one
/// wakes the lifecycle thread when the gate opens, the other the sender when
/// records arrive.
pub(crate) struct Shared {
    forwarder: Mutex<Forwarder>,
    sink: Mutex<Box<dyn Sink>>,
    /// The sink's last send failed (said once, and its recovery once).
    sink_down: AtomicBool,
    /// The lifecycle thread waits on the gate (and sends meanwhile).
    at_gate: AtomicBool,
    gate: Condvar,
    work: Condvar,
}

impl Shared {
    pub(crate) fn new(forwarder: Forwarder, sink: Box<dyn Sink>) -> Self {
        Self {
            forwarder: Mutex::new(forwarder),
            sink: Mutex::new(sink),
            sink_down: AtomicBool::new(false),
            at_gate: AtomicBool::new(false),
            gate: Condvar::new(),
            work: Condvar::new(),
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

    /// Hands `records` over and wakes the thread that will send them: the
    /// lifecycle thread while it waits on the gate (it sends meanwhile, so
    /// the batch and the gate's answer need no hand-off), else the sender.
    pub(crate) fn receive(&self, records: Vec<ForwardRecord>) {
        self.update(|forwarder, now| forwarder.receive(records, now));
        if self.at_gate.load(Ordering::Acquire) {
            self.gate.notify_all();
        } else {
            self.work.notify_one();
        }
    }

    /// Sends one batch and records how it went; the sink's first failure and
    /// its recovery are each said once.
    fn send(&self, batch: Batch) {
        let mut sink = self.sink.lock().unwrap_or_else(PoisonError::into_inner);
        let sent = sink.send(&batch.records);
        self.update(|forwarder, now| match &sent {
            Ok(()) => forwarder.batch_sent(batch.id),
            Err(_) => forwarder.batch_failed(batch.id, now),
        });
        let was_down = self.sink_down.swap(sent.is_err(), Ordering::Relaxed);
        match sent {
            Ok(()) if was_down => crate::say(&format!("the sink {} takes records again", sink.describe())),
            Err(problem) if !was_down => {
                crate::say(&format!("the sink failed ({problem}); retrying with back-off"))
            }
            _ => {}
        }
    }

    /// The counts so far.
    pub(crate) fn stats(&self) -> ForwarderStats {
        self.lock().stats()
    }

    /// Blocks until the forwarder emits an event (its gate opened), passing
    /// the time in as its waits end, and sending what is ready meanwhile.
    pub(crate) fn next_event(&self) -> ForwarderEvent {
        self.at_gate.store(true, Ordering::Release);
        let event = self.wait_at_gate();
        self.at_gate.store(false, Ordering::Release);
        // Records that came while this thread was leaving are the sender's.
        self.work.notify_one();
        event
    }

    fn wait_at_gate(&self) -> ForwarderEvent {
        let mut forwarder = self.lock();
        loop {
            let now = Instant::now();
            forwarder.handle_timeout(now);
            if let Some(event) = forwarder.poll_event() {
                return event;
            }
            if let Some(batch) = forwarder.poll_batch() {
                drop(forwarder);
                self.send(batch);
                forwarder = self.lock();
                continue;
            }
            let wait = forwarder.poll_timeout().map_or(MAX_WAIT, |at| at.saturating_duration_since(now));
            let (guard, _) = self
                .gate
                .wait_timeout(forwarder, wait.clamp(Duration::from_millis(1), MAX_WAIT))
                .unwrap_or_else(PoisonError::into_inner);
            forwarder = guard;
        }
    }

    /// The sender, for ever: sends each batch as it is ready, and what
    /// waited once a back-off ends.
    pub(crate) fn run_sender(&self) -> ! {
        loop {
            let batch = {
                let mut forwarder = self.lock();
                loop {
                    let now = Instant::now();
                    forwarder.handle_timeout(now);
                    if let Some(batch) = forwarder.poll_batch() {
                        break batch;
                    }
                    let wait =
                        forwarder.poll_timeout().map_or(MAX_WAIT, |at| at.saturating_duration_since(now));
                    let (guard, _) = self
                        .work
                        .wait_timeout(forwarder, wait.clamp(Duration::from_millis(1), MAX_WAIT))
                        .unwrap_or_else(PoisonError::into_inner);
                    forwarder = guard;
                }
            };
            self.send(batch);
        }
    }
}
