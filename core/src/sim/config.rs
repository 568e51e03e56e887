//! What an exploration is made of: the bounds, the faults the network may
//! inject, and the bugs a deliberately faulty client plants.

use crate::runtime::Mode;

/// Kinds of network and platform faults the simulation may inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Faults {
    /// A request never reaches the platform (the client sees a reset).
    pub lose_request: bool,
    /// A request is answered `500` instead of reaching the platform.
    pub status_500: bool,
    /// An answer is lost on its way back (the client sees a reset).
    pub drop_answer: bool,
    /// A parked long poll's connection drops.
    pub disconnect: bool,
    /// An active invocation times out (a later answer gets `410`).
    pub expire: bool,
    /// Shutdown arrives before every invocation is done.
    pub early_shutdown: bool,
}

impl Faults {
    /// No faults.
    pub const NONE: Self = Self {
        lose_request: false,
        status_500: false,
        drop_answer: false,
        disconnect: false,
        expire: false,
        early_shutdown: false,
    };
    /// Every kind of fault.
    pub const ALL: Self = Self {
        lose_request: true,
        status_500: true,
        drop_answer: true,
        disconnect: true,
        expire: true,
        early_shutdown: true,
    };
}

/// A bug planted in a deliberately faulty client, to prove that the checks
/// find each kind of protocol violation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bug {
    /// The runtime answers an invocation again after its answer was accepted.
    AnswerTwice,
    /// The first extension polls for events after it has exited.
    PollAfterExit,
    /// The runtime ignores a fatal status on `next` and polls again.
    IgnoreFatal,
    /// The first extension polls for events before registering.
    SkipRegister,
}

/// What to simulate.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SimConfig {
    /// Classic or Managed Instances.
    pub mode: Mode,
    /// Invocations the platform delivers.
    pub invocations: u8,
    /// External extensions (INVOKE and SHUTDOWN in classic mode, SHUTDOWN
    /// only in Managed Instances mode).
    pub extensions: u8,
    /// Whether the first extension subscribes to the Telemetry API.
    pub subscribe: bool,
    /// The most faults injected on one path.
    pub max_faults: u8,
    /// Which faults may be injected.
    pub faults: Faults,
    /// A planted bug, if any.
    pub bug: Option<Bug>,
}

impl SimConfig {
    /// A fault-free classic configuration.
    pub fn classic(invocations: u8, extensions: u8) -> Self {
        Self {
            mode: Mode::Classic,
            invocations,
            extensions,
            subscribe: false,
            max_faults: 0,
            faults: Faults::NONE,
            bug: None,
        }
    }
}
