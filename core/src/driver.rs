//! What every driver (both transports, or a host's own) reports when it
//! stops, and how it reads its configuration from the Lambda environment:
//! written once here so that the transports cannot drift apart.

use crate::extension::{EventType, ExtensionConfig, ExtensionError};
use crate::ids::{ExtensionName, IdError};
use crate::runtime::{ConfigError, RuntimeConfig, RuntimeError};

/// Why a runtime driver stopped or could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The Lambda environment variables are missing or unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The machine stopped on a fatal error.
    #[error(transparent)]
    Fatal(#[from] RuntimeError),
    /// The init error was reported; the process should exit non-zero.
    #[error("the init error was reported")]
    InitFailed,
    /// Nothing could make progress although the machine had not exited: a
    /// driver bug, reported rather than waited on forever.
    #[error("the runtime stalled without exiting")]
    Stalled,
    /// The driver misused the machine (a bug in the driver), reported
    /// rather than ignored.
    #[error("the driver misused the runtime machine: {0}")]
    Misuse(RuntimeError),
    /// A driver thread could not be started.
    #[error("could not start a thread: {0}")]
    Thread(std::io::Error),
    /// The process could not listen for SIGTERM.
    #[error("could not listen for SIGTERM: {0}")]
    Signals(std::io::Error),
}

/// Why an extension driver stopped or could not start.
#[derive(Debug, thiserror::Error)]
pub enum ExtensionRunError {
    /// The environment is not a Lambda environment, or the driver could not
    /// set itself up.
    #[error(transparent)]
    Setup(#[from] RunError),
    /// The extension name is not a usable header value.
    #[error("invalid extension name: {0}")]
    Name(#[from] IdError),
    /// The machine stopped on a fatal error.
    #[error(transparent)]
    Fatal(#[from] ExtensionError),
    /// The driver misused the machine (a bug in the driver), reported
    /// rather than ignored.
    #[error("the driver misused the extension machine: {0}")]
    Misuse(ExtensionError),
    /// An error was reported with init/error or exit/error.
    #[error("an error was reported to the platform")]
    Reported,
}

/// The line a driver logs (on stderr) for a runtime event that needs no
/// action but should not pass unseen; `None` for the others.
pub fn runtime_event_line(event: &crate::runtime::RuntimeEvent) -> Option<String> {
    use crate::runtime::RuntimeEvent;
    match event {
        RuntimeEvent::Rejected { request_id, status, server, .. } => {
            Some(format!("lambda-sansio: the answer to {request_id} was refused with {status}: {server}"))
        }
        RuntimeEvent::StreamLost { request_id, error } => {
            Some(format!("lambda-sansio: the streamed answer to {request_id} was lost: {error}"))
        }
        RuntimeEvent::InvocationUnreadable { request_id, error } => Some(format!(
            "lambda-sansio: invocation {request_id} could not be read ({error}); it was reported as an error"
        )),
        _ => None,
    }
}

/// How a runtime driver ends when its machine exits.
pub fn runtime_exit(reason: crate::runtime::ExitReason) -> Result<(), RunError> {
    match reason {
        crate::runtime::ExitReason::InitErrorReported => Err(RunError::InitFailed),
        crate::runtime::ExitReason::Fatal(error) => Err(RunError::Fatal(error)),
    }
}

/// A runtime machine call's outcome, as a driver acts on it: a fatal error
/// also comes back as the machine's `Exit` event, which ends the loop; any
/// other error is the driver misusing the machine, reported as such.
pub fn checked(result: Result<(), RuntimeError>) -> Result<(), RunError> {
    match result {
        Err(error) if !error.is_fatal() => Err(RunError::Misuse(error)),
        _ => Ok(()),
    }
}

/// The same for an extension machine call.
pub fn checked_extension(result: Result<(), ExtensionError>) -> Result<(), ExtensionRunError> {
    match result {
        Err(error) if !error.is_fatal() => Err(ExtensionRunError::Misuse(error)),
        _ => Ok(()),
    }
}

/// How an extension driver ends when its machine exits.
pub fn extension_exit(reason: crate::extension::ExitReason) -> Result<(), ExtensionRunError> {
    use crate::extension::ExitReason;
    match reason {
        ExitReason::Shutdown => Ok(()),
        ExitReason::InitErrorReported | ExitReason::ExitErrorReported => Err(ExtensionRunError::Reported),
        ExitReason::Fatal(error) => Err(ExtensionRunError::Fatal(error)),
    }
}

/// The runtime's settings from the Lambda environment, read through
/// `var` (`std::env::var(name).ok()` in a real process).
pub fn runtime_config(var: impl Fn(&str) -> Option<String>) -> Result<RuntimeConfig, ConfigError> {
    RuntimeConfig::from_env_values(
        var("AWS_LAMBDA_RUNTIME_API").as_deref(),
        var("AWS_LAMBDA_MAX_CONCURRENCY").as_deref(),
    )
}

/// An extension's settings from the Lambda environment, read through `var`.
pub fn extension_config(
    var: impl Fn(&str) -> Option<String>,
    name: &str,
    events: &[EventType],
) -> Result<ExtensionConfig, ExtensionRunError> {
    let config = ExtensionConfig::from_env_values(
        var("AWS_LAMBDA_RUNTIME_API").as_deref(),
        var("AWS_LAMBDA_INITIALIZATION_TYPE").as_deref(),
        ExtensionName::new(name)?,
        events,
    );
    config.map_err(|e| ExtensionRunError::Setup(RunError::Config(e)))
}

/// Writes one of the library's own diagnostic lines (a refused answer, a
/// lost stream, a failed request that is retried): through `tracing` at
/// WARN when the `tracing` feature is on and a subscriber is installed, so
/// it carries the invocation's request id and follows `AWS_LAMBDA_LOG_LEVEL`;
/// otherwise as one sentence on stderr. This and the `logging` module (feature `tracing`) are the
/// only places where the crate writes anything.
pub fn diagnostic(line: &str) {
    #[cfg(feature = "tracing")]
    if tracing::dispatcher::has_been_set() {
        tracing::warn!(target: "lambda_sansio", "{}", line.strip_prefix("lambda-sansio: ").unwrap_or(line));
        return;
    }
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// Feeds a failed exchange to an extension machine, with a diagnostic line
/// saying so (the machine retries it after a back-off while retries last).
pub fn extension_transport_error(
    machine: &mut crate::extension::ExtensionMachine,
    token: crate::Token,
    error: crate::TransportError,
    now: std::time::Instant,
) -> Result<(), ExtensionError> {
    diagnostic(&format!(
        "lambda-sansio: a request to the Extensions API failed ({error}); it is retried while retries last"
    ));
    machine.handle_transport_error(token, error, now)
}

/// Feeds a failed exchange to the runtime machine, with a diagnostic line
/// saying so (the machine retries it after a back-off while retries last).
pub fn runtime_transport_error(
    machine: &mut crate::runtime::RuntimeMachine,
    token: crate::Token,
    error: crate::TransportError,
    now: std::time::Instant,
) -> Result<(), RuntimeError> {
    diagnostic(&format!(
        "lambda-sansio: a request to the Runtime API failed ({error}); it is retried while retries last"
    ));
    machine.handle_transport_error(token, error, now)
}

/// Feeds the outcome of the exchange sent on `token` to the runtime
/// machine: its answer, or its failure (as [`runtime_transport_error`]).
pub fn runtime_outcome(
    machine: &mut crate::runtime::RuntimeMachine,
    token: crate::Token,
    result: Result<http::Response<bytes::Bytes>, crate::TransportError>,
    now: std::time::Instant,
) -> Result<(), RuntimeError> {
    match result {
        Ok(response) => machine.handle_response(token, response),
        Err(error) => runtime_transport_error(machine, token, error, now),
    }
}

/// Feeds what became of a `next` pipelined on `token` to the runtime
/// machine, once the answer it followed was fed: its outcome, that it was
/// not served (sent again), or nothing when the answer's failure stood for
/// both.
#[cfg(feature = "http1")]
pub fn runtime_pipelined_outcome(
    machine: &mut crate::runtime::RuntimeMachine,
    token: crate::Token,
    pipelined: crate::http1::Pipelined<crate::TransportError>,
    now: std::time::Instant,
) -> Result<(), RuntimeError> {
    match pipelined {
        crate::http1::Pipelined::Answer(result) => runtime_outcome(machine, token, result, now),
        crate::http1::Pipelined::NotServed => machine.handle_not_served(token),
        crate::http1::Pipelined::Lost => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_comes_from_the_lambda_variables() {
        let lambda = |name: &str| match name {
            "AWS_LAMBDA_RUNTIME_API" => Some("127.0.0.1:9001".to_owned()),
            "AWS_LAMBDA_MAX_CONCURRENCY" => Some("4".to_owned()),
            "AWS_LAMBDA_INITIALIZATION_TYPE" => Some("lambda-managed-instances".to_owned()),
            _ => None,
        };
        assert_eq!(runtime_config(lambda).map(|c| c.mode.slots()), Ok(4));
        let extension = extension_config(lambda, "x", &[EventType::Shutdown]).map(|c| c.managed_instances);
        assert!(matches!(extension, Ok(true)));
        assert_eq!(runtime_config(|_| None), Err(ConfigError::MissingApi));
        assert!(matches!(extension_config(|_| None, "x", &[]), Err(ExtensionRunError::Setup(_))));
        assert!(matches!(extension_config(lambda, "bad name", &[]), Err(ExtensionRunError::Name(_))));
    }
}
