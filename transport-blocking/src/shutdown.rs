//! Graceful shutdown: receive SIGTERM and run a hook before the process ends.

use std::thread;

use lambda_sansio::extension::{ExitReason, ExtensionConfig, ExtensionEvent, ExtensionMachine};
use lambda_sansio::runtime::ConfigError;
use lambda_sansio::{ApiAddress, ExtensionName};
use signal_hook::consts::SIGTERM;
use signal_hook::iterator::Signals;

use lambda_sansio::driver::{ExtensionRunError, RunError};

use crate::extension::{pump, step};
use crate::http1::Connection;
use crate::runtime::MAX_EVENT;

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
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API").map_err(|_| RunError::from(ConfigError::MissingApi))?;
    let address = ApiAddress::parse(&api).map_err(|e| RunError::from(ConfigError::from(e)))?;
    let name = ExtensionName::new(GRACEFUL_SHUTDOWN_EXTENSION)?;
    let mut connection = Connection::new(address.authority().as_str(), MAX_EVENT);
    let mut machine = ExtensionMachine::new(ExtensionConfig::new(address, name, &[]));
    // Registration must be over before the runtime's first `next`.
    while machine.extension_id().is_none() && machine.exit_reason().is_none() {
        if !step(&mut machine, &mut connection)? {
            return Err(RunError::Stalled.into());
        }
    }
    if let Some(reason) = machine.exit_reason() {
        return Err(match reason {
            ExitReason::Fatal(error) => error.clone().into(),
            _ => ExtensionRunError::Reported,
        });
    }
    let signals = Signals::new([SIGTERM]);
    let mut signals = signals.map_err(|e| ExtensionRunError::Setup(RunError::Signals(e)))?;
    let keep_polling = move || {
        // The machine's event poll stays open for the process lifetime: an
        // extension with no events is never sent one. Should it end (the
        // platform went away), the machine says why and the thread ends.
        if let Ok(ExtensionEvent::Exit(ExitReason::Fatal(error))) = pump(&mut machine, &mut connection) {
            lambda_sansio::driver::diagnostic(&format!(
                "lambda-sansio: the SIGTERM helper's extension stopped: {error}"
            ));
        }
    };
    thread::Builder::new()
        .name("lambda-sigterm-poll".into())
        .spawn(keep_polling)
        .map_err(RunError::Thread)?;
    let on_signal = move || {
        if signals.forever().next().is_some() {
            hook();
            std::process::exit(0);
        }
    };
    thread::Builder::new().name("lambda-sigterm-hook".into()).spawn(on_signal).map_err(RunError::Thread)?;
    Ok(())
}
