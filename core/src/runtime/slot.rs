//! The state of one slot of a [`RuntimeMachine`](super::RuntimeMachine):
//! one connection, what it is doing, and what it will send.

use bytes::Bytes;
use http::HeaderValue;

use crate::attempt::Attempt;
use crate::exchange::Call;
use crate::ids::{InvocationId, RequestId};
use crate::report::ErrorReport;

/// The state of one connection.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Slot {
    /// Nothing to do (the other slots of a machine reporting an init error).
    Idle,
    /// The host is running the handler.
    Handling(Active),
    /// A request to send, in flight, or backing off.
    Busy(Work, Attempt),
    /// A buffered answer in flight (the first attempt) with a `next`
    /// pipelined behind it on the same connection (the second: queued, or
    /// in flight once the driver took it).
    Followed(Work, Attempt, Attempt),
}

/// A request a slot has to get through.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Work {
    Next,
    InitError(ErrorReport),
    Answer(Active, Answer),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Active {
    pub(super) request_id: RequestId,
    pub(super) invocation_id: Option<InvocationId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Answer {
    Response(Bytes, Option<HeaderValue>),
    Error(ErrorReport),
    Streamed(Option<HeaderValue>),
}

impl Slot {
    pub(super) fn busy(work: Work) -> Self {
        Self::Busy(work, Attempt::FRESH)
    }

    /// The attempt of the request at the head of the connection.
    pub(super) fn attempt(&self) -> Option<Attempt> {
        match self {
            Self::Busy(_, attempt) | Self::Followed(_, attempt, _) => Some(*attempt),
            Self::Idle | Self::Handling(_) => None,
        }
    }

    /// The same, to change.
    pub(super) fn attempt_mut(&mut self) -> Option<&mut Attempt> {
        match self {
            Self::Busy(_, attempt) | Self::Followed(_, attempt, _) => Some(attempt),
            Self::Idle | Self::Handling(_) => None,
        }
    }

    /// Whether `poll_request` has something to hand out on this slot.
    pub(super) fn has_queued(&self) -> bool {
        match self {
            Self::Busy(_, attempt) | Self::Followed(_, _, attempt) => attempt.is_queued(),
            Self::Idle | Self::Handling(_) => false,
        }
    }

    /// The invocation this slot is handling or answering.
    pub(super) fn active(&self) -> Option<&Active> {
        match self {
            Self::Handling(active)
            | Self::Busy(Work::Answer(active, _), _)
            | Self::Followed(Work::Answer(active, _), ..) => Some(active),
            _ => None,
        }
    }
}

impl Work {
    /// Whether a `next` may be pipelined behind this request: a buffered
    /// answer (its status, unless fatal, is always followed by `next`).
    pub(super) fn may_be_followed(&self) -> bool {
        matches!(self, Self::Answer(_, Answer::Response(..) | Answer::Error(_)))
    }

    pub(super) fn call(&self) -> Call {
        match self {
            Self::Next => Call::RuntimeNext,
            Self::InitError(_) => Call::RuntimeInitError,
            Self::Answer(_, Answer::Error(_)) => Call::RuntimeError,
            Self::Answer(_, Answer::Response(..) | Answer::Streamed(_)) => Call::RuntimeResponse,
        }
    }
}
