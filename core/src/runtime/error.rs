//! Errors and exit reasons of the runtime machine.

use crate::exchange::{Call, Token, TransportError};
use crate::ids::RequestId;
use crate::report::ServerError;
use crate::runtime::invocation::InvocationError;
use crate::wire::BuildError;

/// An error from [`RuntimeMachine`](super::RuntimeMachine).
///
/// Fatal variants ([`is_fatal`](Self::is_fatal)) are sticky: once one
/// happened, every call returns it again and no request is produced. The
/// others report misuse of one call and leave the machine as it was.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum RuntimeError {
    /// Fatal: the platform answered with a status that ends the runtime
    /// (`403`, `5xx`, or anything but `200` to `next`).
    #[error("the platform answered the {call} with {status}: {server}")]
    Status {
        /// The call that was answered.
        call: Call,
        /// The HTTP status.
        status: u16,
        /// The decoded error body.
        server: ServerError,
    },
    /// Fatal: the retries of a failed exchange are used up.
    #[error("the {call} failed {attempts} times, last: {last}")]
    Transport {
        /// The call that failed.
        call: Call,
        /// How many times it was sent.
        attempts: u8,
        /// The last failure.
        last: TransportError,
    },
    /// Fatal: `next` returned an invocation that cannot be answered.
    #[error("unusable invocation: {0}")]
    BadInvocation(InvocationError),
    /// Fatal: `next` was answered, but the answer could not be read and its
    /// request id could not be recovered, so the invocation cannot be
    /// reported.
    #[error("an invocation arrived that could not be read: {0}")]
    UnreadableInvocation(TransportError),
    /// Fatal: `next` returned a request id that is already in flight.
    #[error("the platform delivered request id {0} while it was still in flight")]
    DuplicateInvocation(RequestId),
    /// Fatal: a request could not be built (unreachable with validated input).
    #[error(transparent)]
    Build(#[from] BuildError),
    /// Misuse: no invocation with this id is waiting for an answer.
    #[error("no invocation {0} is waiting for an answer")]
    UnknownRequestId(RequestId),
    /// Misuse: this invocation was answered already.
    #[error("invocation {0} was answered already")]
    AlreadyAnswered(RequestId),
    /// Misuse: an answer or transport error for a token with no request in flight.
    #[error("no request is in flight on {0:?}")]
    UnexpectedResponse(Token),
    /// The machine exited after reporting an init error; nothing more to do.
    #[error("the runtime has exited")]
    Exited,
}

impl RuntimeError {
    /// Whether this error stopped the machine for good.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Self::Status { .. }
                | Self::Transport { .. }
                | Self::BadInvocation(_)
                | Self::UnreadableInvocation(_)
                | Self::DuplicateInvocation(_)
                | Self::Build(_)
        )
    }
}

/// Why the runtime machine stopped. Both reasons mean the process should
/// exit non-zero, so it is an error a host can return with `?`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum ExitReason {
    /// `init/error` was answered `2xx`: the process should exit non-zero.
    #[error("the runtime reported an init error and stopped")]
    InitErrorReported,
    /// A fatal error: the process should exit non-zero promptly.
    #[error(transparent)]
    Fatal(RuntimeError),
}

/// Why the platform refused an answer that the runtime then gave up on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Rejection {
    /// `400 InvalidRequestID`: not the current invocation, or answered already.
    InvalidRequestId,
    /// `410 InvokeTimeout`: the invocation timed out before the answer came.
    InvokeTimeout,
    /// `413`: the payload was too large. For a buffered response the
    /// platform has reported `Function.ResponseSizeTooLarge` itself; for a
    /// streamed one the runtime sends that report.
    PayloadTooLarge,
    /// Any other `4xx` except `403`.
    Other,
}

impl Rejection {
    pub(crate) fn classify(status: u16, server: &ServerError) -> Self {
        match status {
            400 if server.is("InvalidRequestID") => Self::InvalidRequestId,
            410 => Self::InvokeTimeout,
            413 => Self::PayloadTooLarge,
            _ => Self::Other,
        }
    }
}
