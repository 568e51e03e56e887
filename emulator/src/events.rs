//! The emulator's record of what happened in the environment: every platform
//! event is kept (the most recent [`HISTORY`] events, holding at most
//! [`HISTORY_BYTES`] of payloads) and fanned out live, so a caller that
//! subscribes after [`Emulator::start`](super::Emulator::start) returns still
//! sees the events that happened during start-up.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use lambda_sansio::platform::{Outcome, PlatformEvent};
use tokio::sync::broadcast;
pub use tokio::sync::broadcast::error::{RecvError, TryRecvError};

/// How many past events a new subscriber is replayed; older ones are
/// reported as [`RecvError::Lagged`].
pub const HISTORY: usize = 4096;

/// How many payload bytes (responses, error bodies) the replayed events may
/// hold at most, so a long run with large answers keeps bounded memory.
pub const HISTORY_BYTES: usize = 64 * 1024 * 1024;

/// Shared between the platform actor (which publishes) and the emulator's
/// handles (which subscribe).
#[derive(Clone)]
pub(crate) struct EventLog {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    history: VecDeque<PlatformEvent>,
    history_bytes: usize,
    forgotten: u64,
    live: broadcast::Sender<PlatformEvent>,
}

impl EventLog {
    pub(crate) fn new() -> Self {
        let (live, _) = broadcast::channel(HISTORY);
        Self {
            inner: Arc::new(Mutex::new(Inner {
                history: VecDeque::new(),
                history_bytes: 0,
                forgotten: 0,
                live,
            })),
        }
    }

    /// Records `event` and hands it to every subscriber. History and live
    /// feed change under one lock, so a subscriber sees each event exactly
    /// once: from the replay or from the feed, never both, never neither.
    pub(crate) fn publish(&self, event: PlatformEvent) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.history_bytes += payload_bytes(&event);
        inner.history.push_back(event.clone());
        while inner.history.len() > HISTORY || inner.history_bytes > HISTORY_BYTES {
            let Some(oldest) = inner.history.pop_front() else { break };
            inner.history_bytes -= payload_bytes(&oldest);
            inner.forgotten += 1;
        }
        // No live subscriber is not an error: the history keeps the event.
        let _ = inner.live.send(event);
    }

    /// Every event from the emulator's start (as far as [`HISTORY`]
    /// reaches), then each new one as it happens.
    pub(crate) fn subscribe(&self) -> Events {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        Events { forgotten: inner.forgotten, backlog: inner.history.clone(), live: inner.live.subscribe() }
    }

    /// Only the events that happen from now on (for the emulator's own
    /// supervision, which must not react to a replaced environment's past).
    pub(crate) fn subscribe_live(&self) -> Events {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        Events { forgotten: 0, backlog: VecDeque::new(), live: inner.live.subscribe() }
    }
}

/// The payload an event keeps alive.
fn payload_bytes(event: &PlatformEvent) -> usize {
    match event {
        PlatformEvent::InvocationCompleted { outcome: Outcome::Response { body, .. }, .. }
        | PlatformEvent::InvocationCompleted { outcome: Outcome::Error { body, .. }, .. }
        | PlatformEvent::InitFailed { body, .. }
        | PlatformEvent::ExtensionExitError { body, .. } => body.len(),
        _ => 0,
    }
}

/// A subscriber's view of the platform events, oldest first; see
/// [`Emulator::events`](super::Emulator::events).
pub struct Events {
    forgotten: u64,
    backlog: VecDeque<PlatformEvent>,
    live: broadcast::Receiver<PlatformEvent>,
}

impl Events {
    /// The next event, waiting for it if none is ready. `Lagged(n)` says `n`
    /// events were missed (too old to replay, or the subscriber fell more
    /// than [`HISTORY`] behind); `Closed`, that the emulator is gone.
    pub async fn recv(&mut self) -> Result<PlatformEvent, RecvError> {
        if let Some(missed) = self.take_forgotten() {
            return Err(RecvError::Lagged(missed));
        }
        match self.backlog.pop_front() {
            Some(event) => Ok(event),
            None => self.live.recv().await,
        }
    }

    /// The next event if one is ready, without waiting.
    pub fn try_recv(&mut self) -> Result<PlatformEvent, TryRecvError> {
        if let Some(missed) = self.take_forgotten() {
            return Err(TryRecvError::Lagged(missed));
        }
        match self.backlog.pop_front() {
            Some(event) => Ok(event),
            None => self.live.try_recv(),
        }
    }

    fn take_forgotten(&mut self) -> Option<u64> {
        (self.forgotten > 0).then(|| std::mem::take(&mut self.forgotten))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn a_late_subscriber_gets_every_event_once_in_order() {
        let log = EventLog::new();
        log.publish(PlatformEvent::RuntimeReady);
        let mut late = log.subscribe();
        let mut live_only = log.subscribe_live();
        log.publish(PlatformEvent::InitComplete);
        assert_eq!(late.recv().await.unwrap(), PlatformEvent::RuntimeReady);
        assert_eq!(late.recv().await.unwrap(), PlatformEvent::InitComplete);
        assert!(matches!(late.try_recv(), Err(TryRecvError::Empty)));
        assert_eq!(live_only.recv().await.unwrap(), PlatformEvent::InitComplete);
        assert!(matches!(live_only.try_recv(), Err(TryRecvError::Empty)));
    }

    #[tokio::test]
    async fn events_beyond_the_history_are_reported_as_missed() {
        let log = EventLog::new();
        for _ in 0..HISTORY + 3 {
            log.publish(PlatformEvent::RuntimeReady);
        }
        let mut late = log.subscribe();
        assert!(matches!(late.recv().await, Err(RecvError::Lagged(3))));
        for _ in 0..HISTORY {
            assert_eq!(late.recv().await.unwrap(), PlatformEvent::RuntimeReady);
        }
        assert!(matches!(late.try_recv(), Err(TryRecvError::Empty)));
    }

    #[tokio::test]
    async fn large_payloads_are_forgotten_before_memory_grows_past_the_bound() {
        let log = EventLog::new();
        let big = bytes::Bytes::from(vec![b'x'; HISTORY_BYTES / 2 + 1]);
        let completed = |body: &bytes::Bytes| PlatformEvent::InvocationCompleted {
            request_id: lambda_sansio::RequestId::new("r").unwrap(),
            outcome: Outcome::Response { body: body.clone(), streamed: false, content_type: None },
        };
        log.publish(completed(&big));
        log.publish(completed(&big));
        let mut late = log.subscribe();
        assert!(matches!(late.recv().await, Err(RecvError::Lagged(1))));
        assert_eq!(late.recv().await.unwrap(), completed(&big));
        assert!(matches!(late.try_recv(), Err(TryRecvError::Empty)));
    }
}
