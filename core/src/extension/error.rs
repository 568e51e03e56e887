//! Errors and exit reasons of the extension machine.

use super::event::EventError;
use crate::exchange::{Call, Token, TransportError};
use crate::ids::IdError;
use crate::report::ServerError;
use crate::wire::BuildError;

/// Why the platform refused to register the extension (`errorType` of the
/// `4xx` answer). Open: unknown types are kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RegisterRejection {
    /// `Extension.InvalidExtensionName`.
    InvalidExtensionName,
    /// `Extension.InvalidEventType`: e.g. an internal extension asked for SHUTDOWN.
    InvalidEventType,
    /// `Extension.RegistrationClosed`: init is over.
    RegistrationClosed,
    /// `Extension.TooManyExtensions`: more than 10.
    TooManyExtensions,
    /// `Extension.InvalidExtensionState`: e.g. a duplicate name.
    InvalidExtensionState,
    /// Another or no `errorType`.
    Other(Option<String>),
}

impl RegisterRejection {
    pub(crate) fn from_server(server: &ServerError) -> Self {
        match server.error_type.as_deref() {
            Some("Extension.InvalidExtensionName") => Self::InvalidExtensionName,
            Some("Extension.InvalidEventType") => Self::InvalidEventType,
            Some("Extension.RegistrationClosed") => Self::RegistrationClosed,
            Some("Extension.TooManyExtensions") => Self::TooManyExtensions,
            Some("Extension.InvalidExtensionState") => Self::InvalidExtensionState,
            other => Self::Other(other.map(str::to_owned)),
        }
    }
}

/// An error from [`ExtensionMachine`](super::ExtensionMachine).
///
/// Fatal variants ([`is_fatal`](Self::is_fatal)) are sticky: every later call
/// returns the same error and no request is produced. The others report misuse
/// of one call and change nothing.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum ExtensionError {
    /// Fatal: register was refused.
    #[error("registration refused with {status} ({reason:?}): {server}")]
    RegisterRejected {
        /// The HTTP status.
        status: u16,
        /// The typed reason.
        reason: RegisterRejection,
        /// The decoded error body.
        server: ServerError,
    },
    /// Fatal: a status that ends the extension (`403`, `5xx`, or anything
    /// unexpected).
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
    /// Fatal: register succeeded without a usable `Lambda-Extension-Identifier`.
    #[error("register returned no usable extension identifier: {0:?}")]
    BadIdentifier(Option<IdError>),
    /// Fatal: an event body could not be read.
    #[error(transparent)]
    MalformedEvent(#[from] EventError),
    /// Fatal: a request could not be built (unreachable with validated input).
    #[error(transparent)]
    Build(#[from] BuildError),
    /// Misuse: the call is not allowed in the machine's current state.
    #[error("{action} is not allowed while the extension is {state}")]
    NotAllowed {
        /// What was attempted.
        action: &'static str,
        /// The state it was attempted in.
        state: &'static str,
    },
    /// Misuse: an answer or transport error with no request in flight.
    #[error("no request is in flight on {0:?}")]
    UnexpectedResponse(Token),
    /// The machine exited normally; nothing more to do.
    #[error("the extension has exited")]
    Exited,
}

impl ExtensionError {
    /// Whether this error stopped the machine for good.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Self::RegisterRejected { .. }
                | Self::Status { .. }
                | Self::Transport { .. }
                | Self::BadIdentifier(_)
                | Self::MalformedEvent(_)
                | Self::Build(_)
        )
    }
}

/// Why the extension machine stopped.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum ExitReason {
    /// SHUTDOWN was delivered and the host called `exit`.
    #[error("the extension shut down")]
    Shutdown,
    /// `init/error` was sent: the process should exit non-zero.
    #[error("the extension reported an init error and stopped")]
    InitErrorReported,
    /// `exit/error` was sent: the process should exit non-zero.
    #[error("the extension reported an error and stopped")]
    ExitErrorReported,
    /// A fatal error.
    #[error(transparent)]
    Fatal(ExtensionError),
}
