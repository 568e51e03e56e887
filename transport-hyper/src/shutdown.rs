//! Graceful shutdown: receive SIGTERM and run a hook before the process ends.

use std::future::Future;

use lambda_sansio::extension::{ExitReason, ExtensionConfig, ExtensionEvent, ExtensionMachine};
use lambda_sansio::runtime::ConfigError;
use lambda_sansio::{ApiAddress, ExtensionName};
use tokio::signal::unix::{signal, SignalKind};

use crate::client::{Client, MAX_EVENT};
use lambda_sansio::driver::{ExtensionRunError, RunError};

use crate::extension::{pump, step};

/// The name of the internal extension the helper registers.
pub const GRACEFUL_SHUTDOWN_EXTENSION: &str = "lambda-sansio-graceful-shutdown";

/// Registers an internal extension with no events (Lambda sends SIGTERM only
/// to functions with an extension) and runs `hook` on SIGTERM, then exits
/// the process with status 0. Await it before [`run`](crate::run):
/// extensions can register only until the runtime's first `next`.
pub async fn on_sigterm<F, Fut>(hook: F) -> Result<(), ExtensionRunError>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API").map_err(|_| RunError::from(ConfigError::MissingApi))?;
    let address = ApiAddress::parse(&api).map_err(|e| RunError::from(ConfigError::from(e)))?;
    let name = ExtensionName::new(GRACEFUL_SHUTDOWN_EXTENSION)?;
    let mut client = Client::new(address.authority().as_str(), MAX_EVENT);
    let mut machine = ExtensionMachine::new(ExtensionConfig::new(address, name, &[]));
    // Registration must be over before the runtime's first `next`.
    while machine.extension_id().is_none() && machine.exit_reason().is_none() {
        if !step(&mut machine, &mut client).await? {
            return Err(RunError::Stalled.into());
        }
    }
    if let Some(reason) = machine.exit_reason() {
        return Err(match reason {
            ExitReason::Fatal(error) => error.clone().into(),
            _ => ExtensionRunError::Reported,
        });
    }
    let mut terminate =
        signal(SignalKind::terminate()).map_err(|e| ExtensionRunError::Setup(RunError::Signals(e)))?;
    tokio::spawn(async move {
        // The machine's event poll stays open for the process lifetime: an
        // extension with no events is never sent one. Should it end (the
        // platform went away), the machine says why and the task ends.
        if let Ok(ExtensionEvent::Exit(ExitReason::Fatal(error))) = pump(&mut machine, &mut client).await {
            lambda_sansio::driver::diagnostic(&format!(
                "lambda-sansio: the SIGTERM helper's extension stopped: {error}"
            ));
        }
    });
    tokio::spawn(async move {
        if terminate.recv().await.is_some() {
            hook().await;
            std::process::exit(0);
        }
    });
    Ok(())
}
