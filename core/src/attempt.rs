//! Progress of one request through send, answer and back-off, shared by the
//! machines so that their retry behaviour cannot drift apart.

use crate::exchange::{Timer, TimerReason, Token};
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
    /// Backing off; `timer_polled` once `poll_timeout` returned its timer.
    Waiting { timer_polled: bool },
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

    /// The request failed in transit.
    pub(crate) fn failed(&mut self, retry: &RetryPolicy) -> AfterFailure {
        self.failures = self.failures.saturating_add(1);
        if retry.backoff(self.failures).is_some() {
            self.stage = Stage::Waiting { timer_polled: false };
            AfterFailure::Retry
        } else {
            AfterFailure::GiveUp { attempts: self.failures }
        }
    }

    /// The back-off timer for `token`, once, if this attempt is waiting.
    pub(crate) fn poll_timer(&mut self, token: Token, retry: &RetryPolicy) -> Option<Timer> {
        if self.stage != (Stage::Waiting { timer_polled: false }) {
            return None;
        }
        self.stage = Stage::Waiting { timer_polled: true };
        Some(Timer {
            token,
            after: retry.backoff(self.failures)?,
            reason: TimerReason::RetryBackoff { attempt: self.failures },
        })
    }

    /// The back-off elapsed; returns whether this attempt was waiting.
    pub(crate) fn timer_elapsed(&mut self) -> bool {
        let waiting = matches!(self.stage, Stage::Waiting { .. });
        if waiting {
            self.stage = Stage::Queued;
        }
        waiting
    }
}
