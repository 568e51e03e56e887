//! When a forwarding extension may let the environment freeze or end: the
//! flush gate, as a state machine.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::queue::Queue;
use super::record::ForwardRecord;
use crate::telemetry::RecordType;

/// Settings of a [`Forwarder`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ForwarderConfig {
    /// Records kept while the sink is behind; older ones are dropped first.
    pub max_records: usize,
    /// Bytes kept while the sink is behind (see [`ForwardRecord::weight`]).
    pub max_bytes: usize,
    /// Most records in one batch to the sink.
    pub batch_records: usize,
    /// Back-off after the sink's first failure; it doubles per failure.
    pub first_retry: Duration,
    /// Longest back-off between two attempts.
    pub max_retry: Duration,
    /// Longest an INVOKE is held, once its `platform.runtimeDone` arrived,
    /// for the sink to take the records.
    pub flush_budget: Duration,
    /// Whether platform records (`platform.runtimeDone`, `platform.report`)
    /// will arrive: a platform subscription that was accepted. Without
    /// them the forwarder waits for no record, only for the sink.
    pub awaits_platform_records: bool,
    /// Whether an INVOKE is held until its records are at the sink. Off,
    /// `next` goes at once ([`Release::NotHeld`]): no time is added to the
    /// invocation, and records the platform had not delivered yet wait
    /// (frozen) for the next wake-up; SHUTDOWN still waits for everything.
    pub hold_invocations: bool,
}

impl Default for ForwarderConfig {
    fn default() -> Self {
        Self {
            max_records: 10_000,
            max_bytes: 2 * 1024 * 1024,
            batch_records: 1_000,
            first_retry: Duration::from_millis(50),
            max_retry: Duration::from_secs(2),
            flush_budget: Duration::from_millis(500),
            awaits_platform_records: true,
            hold_invocations: true,
        }
    }
}

/// What the forwarder tells its host.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ForwarderEvent {
    /// Close the INVOKE (the extension's `next`): the invocation's records
    /// are at the sink, or waiting longer would only delay the function.
    MayCallNext(Release),
    /// Shutdown work is done: exit. `undelivered` records never reached the
    /// sink (dropped, or still queued when the budget ran out).
    MayExit {
        /// Records that did not reach the sink.
        undelivered: u64,
    },
}

/// Why the gate opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Release {
    /// Every record received was taken by the sink.
    Flushed,
    /// The sink is failing; its records stay queued for the next wake-up.
    SinkDown,
    /// The wait ran out (the invocation's deadline or the flush budget).
    TimedOut,
    /// Invocations are not held ([`ForwarderConfig::hold_invocations`] off).
    NotHeld,
}

/// A batch for the sink. Answer with [`Forwarder::batch_sent`] or
/// [`Forwarder::batch_failed`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Batch {
    /// Names the batch in the answer.
    pub id: u64,
    /// The records, oldest first.
    pub records: Vec<ForwardRecord>,
}

/// Counts for `/stats` and the exit line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ForwarderStats {
    /// Records received (platform and function).
    pub received: u64,
    /// Records the sink took.
    pub forwarded: u64,
    /// Records dropped because the queue was full.
    pub dropped: u64,
    /// Records waiting (queued or in flight).
    pub queued: u64,
    /// Batches the sink failed.
    pub failed_batches: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Gate {
    /// Nothing held.
    Open,
    /// An INVOKE is held until its records are at the sink.
    Invoke(Held),
    /// SHUTDOWN: exit once the outstanding reports arrived and every record
    /// is at the sink, or at `give_up_at`.
    Shutdown { give_up_at: Instant, gave_up: bool },
    /// [`ForwarderEvent::MayExit`] was emitted.
    Exited,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Held {
    request_id: String,
    /// `platform.runtimeDone` for it arrived (or will not: see config).
    runtime_done: bool,
    /// When to stop waiting for `platform.runtimeDone`: the deadline.
    deadline: Instant,
    /// When to stop waiting for the sink, once `runtime_done`.
    flush_until: Option<Instant>,
    timed_out: bool,
}

/// Invocation ids remembered for the shutdown wait and early records.
const REMEMBERED: usize = 64;

/// The forwarder's decisions, sans I/O: which records go to the sink and
/// when, and when the host may call `next` or exit.
///
/// The host feeds records as they arrive ([`receive`](Self::receive)), the
/// INVOKE and SHUTDOWN events ([`invoke`](Self::invoke),
/// [`shutdown`](Self::shutdown)), sends each [`Batch`] from
/// [`poll_batch`](Self::poll_batch) and reports how it went, passes the time
/// in at [`poll_timeout`](Self::poll_timeout), and acts on
/// [`poll_event`](Self::poll_event).
///
/// Rules (PROTOCOL.md, "When telemetry arrives"): an invocation's
/// `platform.runtimeDone` arrives while the environment still runs, its
/// `platform.report` only after every extension called `next`, and nothing
/// arrives while frozen. So an INVOKE is held until that invocation's
/// `platform.runtimeDone` arrived (or its deadline passed) and the sink took
/// everything received, unless the sink is failing or the flush budget ran
/// out (then the records stay queued, and go at the next wake-up). At
/// SHUTDOWN the forwarder waits for the report of every invocation it saw,
/// then for the sink, until the host's give-up time. Delivery is
/// at-least-once: a failed batch is sent again, in order. When the queue is
/// full the oldest records are dropped, and a record counting them is sent
/// ahead of the next batch.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Forwarder {
    config: ForwarderConfig,
    queue: Queue,
    in_flight: Option<Batch>,
    next_batch: u64,
    retry_at: Option<Instant>,
    failures: u32,
    sink_down: bool,
    gate: Gate,
    events: VecDeque<ForwarderEvent>,
    /// Invocations seen without their `platform.report` yet.
    unreported: VecDeque<String>,
    /// Invocations whose `platform.runtimeDone` arrived.
    runtime_done: VecDeque<String>,
    /// Drops not yet reported to the sink.
    drops_to_report: u64,
    stats: ForwarderStats,
}

impl Forwarder {
    /// A forwarder with an empty queue and nothing held.
    pub fn new(config: ForwarderConfig) -> Self {
        let queue = Queue::new(config.max_records, config.max_bytes);
        Self {
            config,
            queue,
            in_flight: None,
            next_batch: 0,
            retry_at: None,
            failures: 0,
            sink_down: false,
            gate: Gate::Open,
            events: VecDeque::new(),
            unreported: VecDeque::new(),
            runtime_done: VecDeque::new(),
            drops_to_report: 0,
            stats: ForwarderStats::default(),
        }
    }

    /// The counts so far.
    pub fn stats(&self) -> ForwarderStats {
        let in_flight = self.in_flight.as_ref().map_or(0, |b| b.records.len());
        ForwarderStats { queued: (self.queue.len() + in_flight) as u64, ..self.stats }
    }

    /// Whether the sink took every record received (nothing queued or in
    /// flight, no drop left to report).
    pub fn is_flushed(&self) -> bool {
        self.queue.is_empty() && self.in_flight.is_none() && self.drops_to_report == 0
    }

    /// Whether [`ForwarderEvent::MayExit`] was emitted.
    pub fn has_exited(&self) -> bool {
        self.gate == Gate::Exited
    }

    /// Platform records will not arrive after all (the subscription was
    /// refused): stop waiting for them.
    pub fn stop_awaiting_platform_records(&mut self) {
        self.config.awaits_platform_records = false;
        self.unreported.clear();
        if let Gate::Invoke(held) = &mut self.gate {
            held.runtime_done = true;
        }
        self.check_gate(None);
    }

    /// Records arrived at `now`. After exit they are counted and dropped.
    pub fn receive(&mut self, records: impl IntoIterator<Item = ForwardRecord>, now: Instant) {
        for record in records {
            self.stats.received += 1;
            if self.gate == Gate::Exited {
                self.stats.dropped += 1;
                continue;
            }
            self.note(&record);
            let dropped = self.queue.push(record);
            self.count_drops(dropped);
        }
        self.check_gate(Some(now));
    }

    fn note(&mut self, record: &ForwardRecord) {
        let Some(id) = &record.request_id else { return };
        match record.record_type {
            RecordType::Report => self.unreported.retain(|seen| seen != id),
            RecordType::Start | RecordType::RuntimeDone => remember(&mut self.unreported, id),
            _ => {}
        }
        if record.record_type == RecordType::RuntimeDone {
            remember(&mut self.runtime_done, id);
            if let Gate::Invoke(held) = &mut self.gate {
                held.runtime_done |= held.request_id == *id;
            }
        }
    }

    fn count_drops(&mut self, dropped: u64) {
        self.stats.dropped += dropped;
        self.drops_to_report += dropped;
    }

    /// An INVOKE for `request_id` arrived; `deadline` is the invocation's.
    /// Hold it until [`ForwarderEvent::MayCallNext`].
    pub fn invoke(&mut self, request_id: &str, deadline: Instant, now: Instant) {
        if matches!(self.gate, Gate::Shutdown { .. } | Gate::Exited) {
            return;
        }
        let runtime_done =
            !self.config.awaits_platform_records || self.runtime_done.iter().any(|id| id == request_id);
        if self.config.awaits_platform_records {
            remember(&mut self.unreported, request_id);
        }
        if !self.config.hold_invocations {
            self.events.push_back(ForwarderEvent::MayCallNext(Release::NotHeld));
            return;
        }
        self.gate = Gate::Invoke(Held {
            request_id: request_id.to_owned(),
            runtime_done,
            deadline,
            flush_until: None,
            timed_out: false,
        });
        self.check_gate(Some(now));
    }

    /// SHUTDOWN arrived: exit by `give_up_at` (the shutdown deadline minus
    /// the host's margin). A held INVOKE is let go.
    pub fn shutdown(&mut self, give_up_at: Instant, now: Instant) {
        if self.gate == Gate::Exited {
            return;
        }
        self.gate = Gate::Shutdown { give_up_at, gave_up: now >= give_up_at };
        self.check_gate(Some(now));
    }

    /// The next batch for the sink: `None` while one is in flight, while
    /// backing off after a failure, or when nothing waits.
    pub fn poll_batch(&mut self) -> Option<Batch> {
        if self.in_flight.is_some() || self.retry_at.is_some() {
            return None;
        }
        let mut records = Vec::new();
        if self.drops_to_report > 0 {
            records.push(ForwardRecord::dropped(self.drops_to_report));
            self.drops_to_report = 0;
        }
        records.extend(self.queue.take(self.config.batch_records.max(1)));
        if records.is_empty() {
            return None;
        }
        self.next_batch += 1;
        let batch = Batch { id: self.next_batch, records };
        self.in_flight = Some(batch.clone());
        Some(batch)
    }

    /// The sink took batch `id`.
    pub fn batch_sent(&mut self, id: u64) {
        let Some(batch) = self.in_flight.take_if(|b| b.id == id) else { return };
        self.stats.forwarded += batch.records.len() as u64;
        self.failures = 0;
        self.sink_down = false;
        self.check_gate(None);
    }

    /// The sink failed batch `id` at `now`: it is sent again, first, after a
    /// back-off.
    pub fn batch_failed(&mut self, id: u64, now: Instant) {
        let Some(batch) = self.in_flight.take_if(|b| b.id == id) else { return };
        self.stats.failed_batches += 1;
        let mut records = batch.records;
        let report = records.first().and_then(dropped_count);
        if let Some(count) = report {
            records.remove(0);
            self.drops_to_report += count;
        }
        let dropped = self.queue.unshift(records);
        self.count_drops(dropped);
        let backoff = self.config.first_retry.saturating_mul(1 << self.failures.min(16));
        self.failures = self.failures.saturating_add(1);
        self.retry_at = Some(now + backoff.min(self.config.max_retry));
        self.sink_down = true;
        self.check_gate(Some(now));
    }

    /// When the forwarder next needs [`handle_timeout`](Self::handle_timeout).
    pub fn poll_timeout(&self) -> Option<Instant> {
        let gate = match &self.gate {
            Gate::Invoke(held) if !held.runtime_done && !held.timed_out => Some(held.deadline),
            Gate::Invoke(held) => held.flush_until.filter(|_| !held.timed_out),
            Gate::Shutdown { give_up_at, gave_up: false } => Some(*give_up_at),
            _ => None,
        };
        [self.retry_at, gate].into_iter().flatten().min()
    }

    /// Time is `now`: back-offs and waits that ended take effect. An early
    /// call changes nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.retry_at.is_some_and(|at| now >= at) {
            self.retry_at = None;
        }
        match &mut self.gate {
            Gate::Invoke(held) if !held.runtime_done && now >= held.deadline => held.timed_out = true,
            Gate::Invoke(held) if held.flush_until.is_some_and(|until| now >= until) => held.timed_out = true,
            Gate::Shutdown { give_up_at, gave_up } if now >= *give_up_at => *gave_up = true,
            _ => {}
        }
        self.check_gate(Some(now));
    }

    /// Whether an event waits for [`poll_event`](Self::poll_event), without
    /// taking it (for a host that wakes its waiting thread only then).
    pub fn has_event(&self) -> bool {
        !self.events.is_empty()
    }

    /// The next event for the host.
    pub fn poll_event(&mut self) -> Option<ForwarderEvent> {
        self.events.pop_front()
    }

    /// Opens the gate when its condition holds. `now` starts the flush
    /// budget once `platform.runtimeDone` arrived.
    fn check_gate(&mut self, now: Option<Instant>) {
        let flushed = self.is_flushed();
        match &mut self.gate {
            Gate::Invoke(held) => {
                if held.runtime_done && held.flush_until.is_none() {
                    held.flush_until = now.map(|now| now + self.config.flush_budget);
                }
                let release = if !held.runtime_done && !held.timed_out {
                    None
                } else if flushed {
                    Some(Release::Flushed)
                } else if self.sink_down {
                    Some(Release::SinkDown)
                } else if held.timed_out {
                    Some(Release::TimedOut)
                } else {
                    None
                };
                if let Some(release) = release {
                    self.gate = Gate::Open;
                    self.events.push_back(ForwarderEvent::MayCallNext(release));
                }
            }
            Gate::Shutdown { gave_up, .. } => {
                let reports_in = self.unreported.is_empty() || !self.config.awaits_platform_records;
                if *gave_up || (reports_in && flushed) {
                    let in_flight = self.in_flight.as_ref().map_or(0, |b| b.records.len());
                    let undelivered = self.stats.dropped + (self.queue.len() + in_flight) as u64;
                    self.gate = Gate::Exited;
                    self.events.push_back(ForwarderEvent::MayExit { undelivered });
                }
            }
            Gate::Open | Gate::Exited => {}
        }
    }
}

fn remember(ids: &mut VecDeque<String>, id: &str) {
    if !ids.iter().any(|seen| seen == id) {
        if ids.len() == REMEMBERED {
            ids.pop_front();
        }
        ids.push_back(id.to_owned());
    }
}

fn dropped_count(record: &ForwardRecord) -> Option<u64> {
    if record.origin != super::record::Origin::Forwarder {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(&record.body).ok()?;
    value.pointer("/record/dropped")?.as_u64()
}
