//! Graceful shutdown: receive SIGTERM and run a hook before the process ends.

use std::thread;

use lambda_sansio::extension::{ExtensionConfig, ExtensionEvent, ExtensionMachine};
use lambda_sansio::{ApiAddress, ExtensionName};
use signal_hook::consts::SIGTERM;
use signal_hook::iterator::Signals;

use crate::extension::ExtensionRunError;
use crate::http1::Connection;
use crate::runtime::{RunError, MAX_EVENT};

/// The name of the internal extension the helper registers.
pub const GRACEFUL_SHUTDOWN_EXTENSION: &str = "lambda-sansio-graceful-shutdown";

/// Registers an internal extension with no events (Lambda sends SIGTERM only
/// to functions with an extension) and runs `hook` on SIGTERM, then exits
/// the process with status 0. Call it before [`run`](crate::run): extensions
/// can register only until the runtime's first `next`.
pub fn on_sigterm<F>(hook: F) -> Result<(), ExtensionRunError>
where
    F: FnOnce() + Send + 'static,
{
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API").map_err(|_| RunError::MissingApi)?;
    let address = ApiAddress::parse(&api).map_err(RunError::from)?;
    let name = ExtensionName::new(GRACEFUL_SHUTDOWN_EXTENSION)?;
    let mut connection = Connection::new(address.authority().as_str(), MAX_EVENT);
    let mut machine = ExtensionMachine::new(ExtensionConfig::new(address, name, &[]));
    // Register, then send the first (never answered) event poll.
    loop {
        while let Some(out) = machine.poll_request() {
            let _ = match connection.send(&out.request) {
                Ok(response) => machine.handle_response(out.token, response),
                Err(error) => machine.handle_transport_error(out.token, error),
            };
        }
        while let Some(timer) = machine.poll_timeout() {
            thread::sleep(timer.after);
            let _ = machine.handle_timeout(timer.token);
        }
        match machine.poll_event() {
            Some(ExtensionEvent::Registered(_)) => break,
            Some(ExtensionEvent::Exit(_)) | None => {
                return Err(machine.exit_reason().map_or(
                    ExtensionRunError::Reported,
                    |reason| match reason {
                        lambda_sansio::extension::ExitReason::Fatal(error) => error.clone().into(),
                        _ => ExtensionRunError::Reported,
                    },
                ));
            }
            Some(_) => {}
        }
    }
    let mut signals = Signals::new([SIGTERM]).map_err(RunError::Thread)?;
    machine.ready()?;
    let poll = machine.poll_request();
    thread::Builder::new()
        .name("lambda-sigterm".into())
        .spawn(move || {
            // The extension's event poll: it stays open for the process lifetime
            // (an extension with no events is never sent one).
            if let Some(out) = poll {
                let _ = connection.send(&out.request);
            }
        })
        .map_err(RunError::Thread)?;
    thread::Builder::new()
        .name("lambda-sigterm-hook".into())
        .spawn(move || {
            if signals.forever().next().is_some() {
                hook();
                std::process::exit(0);
            }
        })
        .map_err(RunError::Thread)?;
    Ok(())
}
