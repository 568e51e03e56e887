//! The Extensions API: wire format and the [`ExtensionMachine`].

mod config;
mod error;
mod event;
mod machine;
mod refusal;
pub mod requests;

pub use config::{ExtensionConfig, MANAGED_INSTANCES_INITIALIZATION};
pub use error::{ExitReason, ExtensionError, RegisterRejection};
pub use event::{
    EventError, EventType, InvokeEvent, LifecycleEvent, RegisterInfo, ShutdownEvent, ShutdownReason, Tracing,
};
pub use machine::{ExtensionEvent, ExtensionMachine};
pub use refusal::{SubscriptionRefusal, UnavailableEvents};
