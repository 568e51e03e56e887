//! What an extension machine is configured with.

use super::event::EventType;
#[cfg(doc)]
use super::machine::{ExtensionEvent, ExtensionMachine};
use crate::address::ApiAddress;
use crate::ids::ExtensionName;
use crate::retry::RetryPolicy;
use crate::runtime::ConfigError;
use crate::telemetry::Subscription;

/// Settings of an [`ExtensionMachine`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExtensionConfig {
    /// `AWS_LAMBDA_RUNTIME_API`.
    pub address: ApiAddress,
    /// `Lambda-Extension-Name`: an external extension's file name.
    pub name: ExtensionName,
    /// Events to receive; empty for an internal extension that registers only
    /// so that the runtime gets SIGTERM.
    pub events: Vec<EventType>,
    /// Ask for `accountId` in the register answer.
    pub accept_account_id: bool,
    /// What to do when an exchange fails.
    pub retry: RetryPolicy,
    /// The environment runs under Lambda Managed Instances
    /// (`AWS_LAMBDA_INITIALIZATION_TYPE=lambda-managed-instances`). There an
    /// extension may register for SHUTDOWN only, and a Telemetry API
    /// subscription must use schema [`Subscription::MANAGED_INSTANCES_SCHEMA`];
    /// the machine applies both rules.
    pub managed_instances: bool,
    /// The Telemetry or Logs API subscription the machine makes during init,
    /// right after registering.
    pub subscription: Option<Subscription>,
    /// Whether the machine finishes init by itself (the first `event/next`)
    /// once registered and subscribed. `false` lets the host do init work
    /// first: the machine emits [`ExtensionEvent::Registered`] and waits for
    /// [`ready`](ExtensionMachine::ready).
    pub auto_ready: bool,
}

/// `AWS_LAMBDA_INITIALIZATION_TYPE` under Lambda Managed Instances.
pub const MANAGED_INSTANCES_INITIALIZATION: &str = "lambda-managed-instances";

impl ExtensionConfig {
    /// A config for `events` with the default retry policy, outside Managed
    /// Instances, without a subscription, finishing init by itself.
    pub fn new(address: ApiAddress, name: ExtensionName, events: &[EventType]) -> Self {
        Self {
            address,
            name,
            events: events.to_vec(),
            accept_account_id: false,
            retry: RetryPolicy::default(),
            managed_instances: false,
            subscription: None,
            auto_ready: true,
        }
    }

    /// The config for the values of `AWS_LAMBDA_RUNTIME_API` and
    /// `AWS_LAMBDA_INITIALIZATION_TYPE` (`None` when unset). Drivers read the
    /// environment; core only parses.
    pub fn from_env_values(
        api: Option<&str>,
        initialization_type: Option<&str>,
        name: ExtensionName,
        events: &[EventType],
    ) -> Result<Self, ConfigError> {
        let address = ApiAddress::parse(api.ok_or(ConfigError::MissingApi)?)?;
        let managed_instances = initialization_type.map(str::trim) == Some(MANAGED_INSTANCES_INITIALIZATION);
        Ok(Self { managed_instances, ..Self::new(address, name, events) })
    }

    /// The same, subscribing with `subscription` during init.
    pub fn with_subscription(mut self, subscription: Subscription) -> Self {
        self.subscription = Some(subscription);
        self
    }
}
