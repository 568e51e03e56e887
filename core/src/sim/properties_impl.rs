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
        holds: |_, w| clear_of(w, Violation::AnsweredTwice) && clear_of(w, Violation::SecondAnswerTaken),
    },
    Property {
        name: "every invocation ends exactly once: never two outcomes, and one by the end",
        kind: Always,
        holds: |c, w| clear_of(w, Violation::DuplicateOutcome) && (!w.is_terminal(c) || w.all_ended_once(c)),
    },
    Property {
        name: "unless a client failed or the platform ended invocations itself, every invocation is answered exactly once by the end",
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
        name: "after shutdown every client stops",
        kind: Always,
        holds: |c, w| !w.is_terminal(c) || !w.shut_down() || w.all_clients_stopped(),
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
        name: "classic delivery waits for every INVOKE extension's next",
        kind: Always,
        holds: |_, w| clear_of(w, Violation::EagerInvocation),
    },
    Property {
        name: "an extension gets each INVOKE once",
        kind: Always,
        holds: |_, w| clear_of(w, Violation::InvokeTwice),
    },
    Property {
        name: "SHUTDOWN reaches exactly the extensions registered for it, busy or not",
        kind: Always,
        holds: |c, w| {
            clear_of(w, Violation::ShutdownToUnregistered)
                && (!w.is_terminal(c) || w.shutdown_reached_all_registered())
        },
    },
    Property {
        name: "an expired id is answered 410 while the platform remembers it",
        kind: Always,
        holds: |_, w| clear_of(w, Violation::ExpiredNotGone),
    },
    Property {
        name: "a failed request is resent only after its back-off, and only while retries last",
        kind: Always,
        holds: |_, w| {
            clear_of(w, Violation::BackoffSkipped)
                && clear_of(w, Violation::RetriedTooOften)
                && clear_of(w, Violation::GaveUpEarly)
        },
    },
    Property {
        name: "no record the platform delivered is lost at a freeze or at shutdown",
        kind: Always,
        holds: |_, w| clear_of(w, Violation::RecordLostAtFreeze) && clear_of(w, Violation::RecordLostAtShutdown),
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
    Property {
        name: "a failed delivery is delivered again",
        kind: Sometimes,
        holds: |_, w| w.redelivered() && !w.disrupted(),
    },
    Property { name: "a client runs out of retries", kind: Sometimes, holds: |_, w| w.retries_ran_out() },
    Property { name: "a late answer gets 410", kind: Sometimes, holds: |_, w| w.late_answer_gone() },
    Property {
        name: "a next pipelined behind an answer brings an invocation",
        kind: Sometimes,
        holds: |_, w| w.pipelined_invocation(),
    },
    Property {
        name: "a pipelined next the server never read is sent again",
        kind: Sometimes,
        holds: |_, w| w.unserved_resent(),
    },
    Property {
        name: "the forwarder exits with every record at the sink, no wait having run out",
        kind: Sometimes,
        holds: |_, w| w.forwarded_everything(),
    },
];
