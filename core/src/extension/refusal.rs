//! What the machine tells a host about its setup: a refused subscription,
//! events the environment does not offer.

use super::event::EventType;
use crate::report::ServerError;

/// A refused Telemetry or Logs API subscription.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SubscriptionRefusal {
    /// The HTTP status (`2xx` when the platform said the API is not supported).
    pub status: u16,
    /// The decoded error body.
    pub server: ServerError,
}

impl SubscriptionRefusal {
    /// Whether Lambda will never accept this subscription (`400
    /// ValidationError`), as opposed to an emulator without the API
    /// (`Telemetry.NotSupported`) or another refusal.
    pub fn is_permanent(&self) -> bool {
        self.status == 400 && self.server.is("ValidationError")
    }
}

impl std::fmt::Display for SubscriptionRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the telemetry subscription was refused with status {} ({})", self.status, self.server)
    }
}

/// Events an extension asked for that the environment does not offer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UnavailableEvents(pub Vec<EventType>);

impl std::fmt::Display for UnavailableEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.0.iter().map(|e| e.as_str()).collect();
        write!(
            f,
            "{} events are not available to extensions under Lambda Managed Instances; registered without them",
            names.join(" and ")
        )
    }
}
