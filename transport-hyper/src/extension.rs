//! The async extension driver: the core [`ExtensionMachine`] over one hyper
//! connection. The machine decides the lifecycle; the caller's outcome
//! closes each event ([`ExtensionMachine::done`]).

use std::future::Future;
use std::time::Instant;

use lambda_sansio::context::HandlerError;
use lambda_sansio::extension::{
    EventType, ExtensionConfig, ExtensionEvent, ExtensionMachine, InvokeEvent, ShutdownEvent,
    SubscriptionRefusal,
};
use lambda_sansio::runtime::ConfigError;
use lambda_sansio::telemetry::Subscription;
use lambda_sansio::{ApiAddress, ExtensionName};

use crate::client::{Client, MAX_EVENT};
use lambda_sansio::driver::{checked_extension, extension_exit, ExtensionRunError, RunError};

/// What the extension is told.
#[derive(Debug, Clone)]
pub enum Event {
    /// An invocation started.
    Invoke(InvokeEvent),
    /// The environment shuts down; this is the last event.
    Shutdown(ShutdownEvent),
    /// The telemetry subscription was refused, during init. `Ok` goes on
    /// without it; `Err` reports an init error and the extension exits.
    /// [`SubscriptionRefusal::is_permanent`] says whether Lambda itself
    /// refused it (rather than an emulator without the API).
    SubscriptionRejected(SubscriptionRefusal),
}

/// An extension to run.
#[derive(Debug, Clone)]
pub struct Extension {
    config: ExtensionConfig,
}

impl Extension {
    /// An extension named `name` receiving `events`, against
    /// `AWS_LAMBDA_RUNTIME_API`.
    pub fn new(name: &str, events: &[EventType]) -> Result<Self, ExtensionRunError> {
        let var = |name: &str| std::env::var(name).ok();
        Ok(Self { config: lambda_sansio::driver::extension_config(var, name, events)? })
    }

    /// Applies the Lambda Managed Instances rules (SHUTDOWN only, the
    /// `2025-01-29` telemetry schema), as [`new`](Self::new) does when
    /// `AWS_LAMBDA_INITIALIZATION_TYPE` says so.
    pub fn managed_instances(mut self, managed_instances: bool) -> Self {
        self.config.managed_instances = managed_instances;
        self
    }

    /// The same against an explicit API address.
    pub fn with_api(api: &str, name: &str, events: &[EventType]) -> Result<Self, ExtensionRunError> {
        let address = ApiAddress::parse(api).map_err(|e| RunError::from(ConfigError::from(e)))?;
        Ok(Self { config: ExtensionConfig::new(address, ExtensionName::new(name)?, events) })
    }

    /// Subscribes to the Telemetry (or Logs) API during init.
    pub fn with_subscription(mut self, subscription: Subscription) -> Self {
        self.config.subscription = Some(subscription);
        self
    }

    /// Registers, subscribes if asked, then awaits `on_event` for each event
    /// until SHUTDOWN. An `Err` is reported with exit/error.
    pub async fn run<F, Fut>(self, mut on_event: F) -> Result<(), ExtensionRunError>
    where
        F: FnMut(Event) -> Fut,
        Fut: Future<Output = Result<(), HandlerError>>,
    {
        let mut client = Client::new(self.config.address.authority().as_str(), MAX_EVENT);
        let mut machine = ExtensionMachine::new(self.config);
        loop {
            let outcome = match pump(&mut machine, &mut client).await? {
                ExtensionEvent::Invoke(invoke) => on_event(Event::Invoke(invoke)).await,
                ExtensionEvent::Shutdown(shutdown) => on_event(Event::Shutdown(shutdown)).await,
                ExtensionEvent::SubscriptionRejected(refusal) => {
                    on_event(Event::SubscriptionRejected(refusal)).await
                }
                // Only without auto_ready, which this driver keeps on.
                ExtensionEvent::Registered(_) => Ok(()),
                ExtensionEvent::EventsUnavailable(unavailable) => {
                    lambda_sansio::driver::diagnostic(&format!("lambda-sansio: {unavailable}"));
                    continue;
                }
                ExtensionEvent::Exit(reason) => return extension_exit(reason),
            };
            machine.done(outcome.map_err(|HandlerError(report)| report))?;
        }
    }
}

/// Sends what the machine asks for, waits out its timers, and returns its
/// next event.
pub(crate) async fn pump(
    machine: &mut ExtensionMachine,
    client: &mut Client,
) -> Result<ExtensionEvent, ExtensionRunError> {
    loop {
        if let Some(event) = machine.poll_event() {
            return Ok(event);
        }
        if !step(machine, client).await? {
            return Err(RunError::Stalled.into());
        }
    }
}

/// Sends the machine's next request and hands it the outcome, or waits out
/// its back-off. Returns whether there was anything to do. A fatal outcome
/// comes back as the machine's `Exit` event; any other error is the driver
/// misusing the machine, reported as such.
pub(crate) async fn step(
    machine: &mut ExtensionMachine,
    client: &mut Client,
) -> Result<bool, ExtensionRunError> {
    if let Some(out) = machine.poll_request() {
        let result = match client.send(out.request).await {
            Ok(response) => machine.handle_response(out.token, response),
            Err(error) => {
                lambda_sansio::driver::extension_transport_error(machine, out.token, error, Instant::now())
            }
        };
        return checked_extension(result).map(|()| true);
    }
    if let Some(due) = machine.poll_timeout() {
        tokio::time::sleep_until(due.into()).await;
        machine.handle_timeout(Instant::now());
        return Ok(true);
    }
    Ok(false)
}
