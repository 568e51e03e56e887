//! What the observer reports about a [`World`]: the questions the
//! properties ask.

use std::collections::BTreeSet;

use super::config::SimConfig;
use super::world::{Violation, World};
use crate::extension::ExitReason;

impl World {
    /// Violations observed so far.
    pub fn violations(&self) -> &BTreeSet<Violation> {
        &self.violations
    }

    /// Whether something happened that loses invocations by design: a
    /// `500`, an answer lost after it was written (the platform cannot
    /// know), retries used up, a failed init, an extension's error report,
    /// a timeout, or an early shutdown. Lost requests, broken deliveries and
    /// dropped polls are recovered from and exempt nothing, and neither is
    /// a client's fatal stop by itself.
    pub fn disrupted(&self) -> bool {
        self.disrupted
    }

    /// Whether every invocation was answered exactly once.
    pub fn all_answered_once(&self, config: &SimConfig) -> bool {
        self.answers.len() == usize::from(config.invocations) && self.answers.values().all(|&n| n == 1)
    }

    /// Whether every invocation ended exactly once (an answer, a timeout or
    /// an abort by shutdown), and every delivered one was declared over
    /// (its report due) exactly once.
    pub fn all_ended_once(&self, config: &SimConfig) -> bool {
        let outcomes =
            self.outcomes.len() == usize::from(config.invocations) && self.outcomes.values().all(|&n| n == 1);
        let over = self.issued_requests.iter().all(|id| self.ended.get(id) == Some(&1));
        outcomes && over
    }

    /// Whether shutdown has started.
    pub fn shut_down(&self) -> bool {
        self.shutdown
    }

    /// Whether every client has stopped: the runtime killed, every extension
    /// exited or stopped with the environment.
    pub fn all_clients_stopped(&self) -> bool {
        self.runtime.killed && self.extensions.iter().all(|e| e.stopped())
    }

    /// Whether, once shutdown started, every extension registered for
    /// SHUTDOWN that did not fail got it.
    pub fn shutdown_reached_all_registered(&self) -> bool {
        !self.shutdown
            || self.extensions.iter().all(|e| {
                let failed = e.machine.exit_reason().is_some_and(|r| *r != ExitReason::Shutdown);
                !e.registered || !e.wants_shutdown() || failed || e.got_shutdown
            })
    }

    /// Whether shutdown started while an invocation was unanswered.
    pub fn shutdown_during_invocation(&self) -> bool {
        self.shutdown_during_invocation
    }

    /// Whether two invocations were ever unanswered at once.
    pub fn two_in_flight(&self) -> bool {
        self.two_in_flight
    }

    /// Whether some client stopped on a fatal error.
    pub fn fatal_exit(&self) -> bool {
        self.fatal_exit
    }

    /// Whether a delivery of an invocation or event failed and the platform
    /// had to deliver it again.
    pub fn redelivered(&self) -> bool {
        self.redelivered
    }

    /// Whether some client used up its retries.
    pub fn retries_ran_out(&self) -> bool {
        self.retries_ran_out
    }

    /// Whether the forwarding extension exited after SHUTDOWN with every
    /// record the platform produced at the sink, without any of its waits
    /// running out.
    pub fn forwarded_everything(&self) -> bool {
        self.telemetry.forwarded_all && !self.telemetry.timer_fired
    }

    /// Whether a late answer for an expired invocation got `410`.
    pub fn late_answer_gone(&self) -> bool {
        self.late_answer_gone
    }

    /// Whether a `next` pipelined behind an answer brought an invocation.
    pub fn pipelined_invocation(&self) -> bool {
        self.pipelined_invocation
    }

    /// Whether a pipelined `next` the server never read was sent again.
    pub fn unserved_resent(&self) -> bool {
        self.unserved_resent
    }
}
