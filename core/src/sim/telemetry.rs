//! Telemetry in the simulation: the platform's records for each invocation,
//! their delivery to the forwarding extension's listener (never while the
//! environment is frozen, and all of them before SHUTDOWN), the sink that
//! takes the forwarder's batches, and the checks of "no delivered record is
//! lost at a freeze or at shutdown".

use std::collections::BTreeSet;
use std::time::Duration;

use bytes::Bytes;

use super::world::{logical_now, Violation, World};
use crate::forward::{Batch, ForwardRecord, Forwarder, ForwarderConfig};
use crate::telemetry::RecordType;
use crate::RequestId;

/// A platform record, as the simulation names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum SimRecord {
    Start(RequestId),
    RuntimeDone(RequestId),
    Report(RequestId),
}

impl SimRecord {
    fn to_forward(&self) -> ForwardRecord {
        let (record_type, id) = match self {
            Self::Start(id) => (RecordType::Start, id),
            Self::RuntimeDone(id) => (RecordType::RuntimeDone, id),
            Self::Report(id) => (RecordType::Report, id),
        };
        ForwardRecord {
            origin: crate::forward::Origin::Platform,
            record_type,
            request_id: Some(id.as_str().to_owned()),
            body: Bytes::new(),
        }
    }

    fn from_forward(record: &ForwardRecord) -> Option<Self> {
        let id = RequestId::new(record.request_id.as_deref()?).ok()?;
        match record.record_type {
            RecordType::Start => Some(Self::Start(id)),
            RecordType::RuntimeDone => Some(Self::RuntimeDone(id)),
            RecordType::Report => Some(Self::Report(id)),
            _ => None,
        }
    }
}

/// The telemetry side of the world; inert unless the first extension
/// forwards.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub(super) struct Telemetry {
    /// The first extension's forwarder, when it forwards.
    pub(super) forwarder: Option<Forwarder>,
    /// The platform accepted the subscription: records are delivered.
    pub(super) subscribed: bool,
    /// Every record the platform produced, in order.
    pub(super) produced: Vec<SimRecord>,
    /// How many of them reached the listener.
    pub(super) delivered: usize,
    /// How many had reached it when the forwarder's host last called `next`.
    pub(super) delivered_at_next: usize,
    /// The batch the sink is taking.
    pub(super) batch: Option<Batch>,
    /// What the sink took.
    pub(super) sink: BTreeSet<SimRecord>,
    /// The environment is frozen (classic, between invocations).
    pub(super) frozen: bool,
    /// A forwarder wait ran out (its deadline, flush budget or shutdown
    /// budget): losing records is then by design.
    pub(super) timer_fired: bool,
    /// Records reached the sink and the forwarder exited with none lost.
    pub(super) forwarded_all: bool,
}

/// The forwarder the simulated host runs: the shipped defaults.
pub(super) fn forwarder() -> Forwarder {
    Forwarder::new(ForwarderConfig::default())
}

/// An invocation's deadline, as the forwarder's host passes it.
pub(super) fn invoke_deadline() -> std::time::Instant {
    logical_now() + Duration::from_secs(60)
}

/// When the forwarder's host gives up at shutdown.
pub(super) fn shutdown_give_up() -> std::time::Instant {
    logical_now() + Duration::from_millis(1_800)
}

impl World {
    pub(super) fn forwarding(&self) -> bool {
        self.telemetry.forwarder.is_some()
    }

    /// The platform produced `record`. It is delivered by a step of its
    /// own, so a record produced as shutdown starts (the report of an
    /// invocation it cut short) may arrive after SHUTDOWN did.
    pub(super) fn produce(&mut self, record: SimRecord) {
        if self.forwarding() && self.telemetry.subscribed {
            self.telemetry.produced.push(record);
        }
    }

    /// Whether the platform can deliver records now.
    pub(super) fn can_deliver_telemetry(&self) -> bool {
        let t = &self.telemetry;
        t.delivered < t.produced.len() && !t.frozen && !self.extensions[0].stopped()
    }

    /// The platform POSTs every record not delivered yet to the listener.
    pub(super) fn deliver_telemetry(&mut self) {
        if self.extensions.first().is_none_or(|e| e.stopped()) {
            return;
        }
        let Some(forwarder) = &mut self.telemetry.forwarder else { return };
        let fresh = &self.telemetry.produced[self.telemetry.delivered..];
        forwarder.receive(fresh.iter().map(SimRecord::to_forward), logical_now());
        self.telemetry.delivered = self.telemetry.produced.len();
    }

    /// The sink takes the batch in flight.
    pub(super) fn sink_takes(&mut self) {
        let Some(batch) = self.telemetry.batch.take() else { return };
        self.telemetry.sink.extend(batch.records.iter().filter_map(SimRecord::from_forward));
        if let Some(forwarder) = &mut self.telemetry.forwarder {
            forwarder.batch_sent(batch.id);
        }
    }

    /// The forwarder's earliest wait ends.
    pub(super) fn fire_forwarder_timer(&mut self) {
        let Some(forwarder) = &mut self.telemetry.forwarder else { return };
        if let Some(due) = forwarder.poll_timeout() {
            self.telemetry.timer_fired = true;
            forwarder.handle_timeout(due);
        }
    }

    /// Moves the forwarder's next batch to the sink's side.
    pub(super) fn take_batch(&mut self) {
        if self.telemetry.batch.is_none() {
            if let Some(forwarder) = &mut self.telemetry.forwarder {
                self.telemetry.batch = forwarder.poll_batch();
            }
        }
    }

    /// The forwarder's host calls `next` (or exits): remembers what had
    /// been delivered by then.
    pub(super) fn forwarder_released(&mut self) {
        self.telemetry.delivered_at_next = self.telemetry.delivered;
    }

    /// Classic: invocation `ended` is over and the environment may freeze.
    /// Every record delivered before the forwarder's `next` must be at the
    /// sink, and so must the invocation's own `platform.runtimeDone`
    /// (unless the platform ended it itself, or a wait ran out).
    pub(super) fn freeze(&mut self, ended: &RequestId) {
        if !self.forwarding() || self.platform.is_shutting_down() {
            return;
        }
        self.telemetry.frozen = true;
        let t = &self.telemetry;
        if t.timer_fired || !t.subscribed || self.extensions[0].stopped() {
            return;
        }
        let lost = t.produced[..t.delivered_at_next].iter().any(|r| !t.sink.contains(r));
        let own = SimRecord::RuntimeDone(ended.clone());
        let own_missing = !self.disrupted && t.produced.contains(&own) && !t.sink.contains(&own);
        self.flag_if(lost || own_missing, Violation::RecordLostAtFreeze);
    }

    /// The forwarding extension exits after SHUTDOWN: every record the
    /// platform produced must be at the sink (unless a wait ran out).
    pub(super) fn forwarder_exited(&mut self) {
        let t = &self.telemetry;
        if !self.forwarding() || t.timer_fired || !t.subscribed {
            return;
        }
        let lost = t.produced.iter().any(|r| !t.sink.contains(r));
        let forwarded_all = !lost && !t.produced.is_empty();
        self.flag_if(lost, Violation::RecordLostAtShutdown);
        self.telemetry.forwarded_all |= forwarded_all;
    }
}
