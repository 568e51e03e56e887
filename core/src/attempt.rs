//! Progress of one request through send, answer and back-off, shared by the
//! machines so that their retry behaviour cannot drift apart.

use std::time::Instant;

use crate::retry::RetryPolicy;

/// One request's progress on a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Attempt {
    stage: Stage,
    /// Failed sends so far.
    failures: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Stage {
    /// To be returned by `poll_request`.
    Queued,
    /// Handed to the driver, answer pending.
    InFlight,
    /// Backing off until the instant given.
    Waiting { until: Instant },
}

/// What a transport failure leads to.
pub(crate) enum AfterFailure {
    /// Wait for a timer, then resend.
    Retry,
    /// Retries used up after this many sends.
    GiveUp { attempts: u8 },
}

impl Attempt {
    /// A request not sent yet.
    pub(crate) const FRESH: Self = Self { stage: Stage::Queued, failures: 0 };

    pub(crate) fn is_queued(self) -> bool {
        self.stage == Stage::Queued
    }

    pub(crate) fn is_in_flight(self) -> bool {
        self.stage == Stage::InFlight
    }

    /// The request was handed to the driver.
    pub(crate) fn sent(&mut self) {
        self.stage = Stage::InFlight;
    }

    /// The request failed in transit at `now`.
    pub(crate) fn failed(&mut self, retry: &RetryPolicy, now: Instant) -> AfterFailure {
        self.failures = self.failures.saturating_add(1);
        match retry.backoff(self.failures) {
            Some(wait) => {
                self.stage = Stage::Waiting { until: now + wait };
                AfterFailure::Retry
            }
            None => AfterFailure::GiveUp { attempts: self.failures },
        }
    }

    /// When this attempt's back-off ends, if it is waiting.
    pub(crate) fn waiting_until(self) -> Option<Instant> {
        match self.stage {
            Stage::Waiting { until } => Some(until),
            _ => None,
        }
    }

    /// Time is `now`: a back-off that has ended queues the request again.
    /// Before then (an early or spurious wake-up) nothing changes.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        if matches!(self.stage, Stage::Waiting { until } if until <= now) {
            self.stage = Stage::Queued;
        }
    }
}
