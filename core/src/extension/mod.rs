//! The Extensions API: wire format and the [`ExtensionMachine`].

mod error;
mod event;
pub mod host;
mod machine;
pub mod requests;

pub use error::{ExitReason, ExtensionError, RegisterRejection};
pub use event::{
    EventError, EventType, InvokeEvent, LifecycleEvent, RegisterInfo, ShutdownEvent, ShutdownReason, Tracing,
};
pub use machine::{ExtensionConfig, ExtensionEvent, ExtensionMachine, MANAGED_INSTANCES_INITIALIZATION};
