//! The protocol properties, as plain functions over a [`World`].

use super::config::SimConfig;
use super::world::{Violation, World};

/// Whether a property must hold in every state or be reached in some.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Must hold in every reachable state.
    Always,
    /// Must hold in at least one reachable state (proves the space is not
    /// vacuous).
    Sometimes,
}

/// A named property.
#[derive(Debug, Clone, Copy)]
pub struct Property {
    /// Its name, as reported by the checker.
    pub name: &'static str,
    /// Always or sometimes.
    pub kind: Kind,
    /// The check.
    pub holds: fn(&SimConfig, &World) -> bool,
}

fn clear_of(world: &World, violation: Violation) -> bool {
    !world.violations().contains(&violation)
}

use Kind::{Always, Sometimes};

/// Every property, in the order the checker reports them.
pub fn properties() -> &'static [Property] {
    PROPERTIES
}

static PROPERTIES: &[Property] = &[
    Property {
        name: "every invocation is answered at most once",
        kind: Always,
        holds: |_, w| clear_of(w, Violation::AnsweredTwice) && clear_of(w, Violation::DuplicateOutcome),
    },
    Property {
        name: "without a disrupting fault, every invocation is answered exactly once by the end",
        kind: Always,
        holds: |c, w| w.disrupted() || !w.is_terminal(c) || w.all_answered_once(c),
    },
    Property {
        name: "no machine sends a request after it exited",
        kind: Always,
        holds: |_, w| clear_of(w, Violation::RequestAfterExit),
    },
    Property {
        name: "no extension polls before a successful register",
        kind: Always,
        holds: |_, w| clear_of(w, Violation::PollBeforeRegister),
    },
    Property {
        name: "every request id and extension id was issued by the platform",
        kind: Always,
        holds: |_, w| clear_of(w, Violation::UnissuedId),
    },
    Property {
        name: "once SHUTDOWN is delivered every machine terminates",
        kind: Always,
        holds: |c, w| !w.is_terminal(c) || w.shutdown_obeyed(),
    },
    Property {
        name: "a fatal status stops a machine for good",
        kind: Always,
        holds: |_, w| clear_of(w, Violation::RequestAfterFatal),
    },
    Property {
        name: "init completes only after the runtime and every extension called next",
        kind: Always,
        holds: |_, w| clear_of(w, Violation::EarlyInit),
    },
    Property {
        name: "one request at a time per connection, and hosts are never refused",
        kind: Always,
        holds: |_, w| {
            clear_of(w, Violation::TwoRequestsOnOneConnection) && clear_of(w, Violation::HostRefused)
        },
    },
    Property {
        name: "all invocations answered, then a clean shutdown",
        kind: Sometimes,
        holds: |c, w| !w.disrupted() && w.all_answered_once(c) && w.shut_down() && w.all_clients_stopped(),
    },
    Property {
        name: "SHUTDOWN during an invocation",
        kind: Sometimes,
        holds: |_, w| w.shutdown_during_invocation(),
    },
    Property { name: "a fatal fault is reached", kind: Sometimes, holds: |_, w| w.fatal_exit() },
    Property { name: "two invocations in flight at once", kind: Sometimes, holds: |_, w| w.two_in_flight() },
];
