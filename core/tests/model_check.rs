//! Exhaustive breadth-first exploration of the composed client/platform
//! state space with stateright, over the real machines (`lambda_sansio::sim`).
//!
//! Small bounds run in every `cargo test`; set `LAMBDA_SANSIO_MODEL=deep`
//! for deeper ones (more invocations, extensions, concurrency and faults).

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::num::NonZeroU16;
use std::time::Instant;

use lambda_sansio::runtime::Mode;
use lambda_sansio::sim::{properties, Action, Bug, Faults, Hosts, Kind, SimConfig, World};
use stateright::{Checker, Model, Property};

struct ProtocolModel {
    config: SimConfig,
}

impl Model for ProtocolModel {
    type State = World;
    type Action = Action;

    fn init_states(&self) -> Vec<World> {
        World::new(&self.config).into_iter().collect()
    }

    fn actions(&self, state: &World, actions: &mut Vec<Action>) {
        state.actions(&self.config, actions);
    }

    fn next_state(&self, state: &World, action: Action) -> Option<World> {
        let mut next = state.clone();
        next.step(&self.config, &action).then_some(next)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        macro_rules! wrap {
            ($($i:literal)*) => {
                vec![$({
                    let p = &properties()[$i];
                    let holds = |m: &ProtocolModel, s: &World| (properties()[$i].holds)(&m.config, s);
                    match p.kind {
                        Kind::Always => Property::always(p.name, holds),
                        Kind::Sometimes => Property::sometimes(p.name, holds),
                    }
                }),*]
            };
        }
        let all = wrap!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25);
        assert_eq!(all.len(), properties().len(), "every property is checked");
        all
    }
}

fn concurrent(max: u16) -> Mode {
    Mode::Concurrent { max: NonZeroU16::new(max).unwrap() }
}

/// Explores `config` exhaustively; asserts every "always" property holds and
/// each named "sometimes" property is reached. Returns the number of states.
fn check(label: &str, config: SimConfig, reached: &[&'static str]) -> usize {
    let started = Instant::now();
    let checker = ProtocolModel { config }.checker().threads(2).spawn_bfs().join();
    let states = checker.unique_state_count();
    println!("{label}: {states} states explored in {:.1?}", started.elapsed());
    for property in properties().iter().filter(|p| p.kind == Kind::Always) {
        checker.assert_no_discovery(property.name);
    }
    for name in reached {
        assert!(properties().iter().any(|p| p.name == *name), "unknown property {name}");
        checker.assert_any_discovery(name);
    }
    assert!(checker.is_done(), "{label}: the exploration must be exhaustive");
    states
}

const CLEAN: &str = "all invocations answered, then a clean shutdown";
const SHUTDOWN_MID: &str = "SHUTDOWN during an invocation";
const FATAL: &str = "a fatal fault is reached";
const TWO: &str = "two invocations in flight at once";
const REDELIVERED: &str = "a failed delivery is delivered again";
const RETRIES_OUT: &str = "a client runs out of retries";
const GONE: &str = "a late answer gets 410";
const FORWARDED: &str = "the forwarder exits with every record at the sink, no wait having run out";
const NOT_LOST: &str = "no record the platform delivered is lost at a freeze or at shutdown";

fn deep() -> bool {
    std::env::var("LAMBDA_SANSIO_MODEL").is_ok_and(|v| v == "deep")
}

/// Bounds: `(default, deep)`.
fn bound<T>(default: T, deeper: T) -> T {
    if deep() {
        deeper
    } else {
        default
    }
}

#[test]
fn classic_three_invocations_two_extensions() {
    let config = SimConfig { subscribe: true, ..SimConfig::classic(3, 2) };
    check("classic, 3 invocations, 2 extensions, no faults", config, &[CLEAN]);
}

#[test]
fn classic_with_faults_of_every_kind() {
    let (invocations, extensions, max_faults) = bound((3, 2, 2), (3, 2, 3));
    let config = SimConfig {
        subscribe: true,
        max_faults,
        faults: Faults::ALL,
        ..SimConfig::classic(invocations, extensions)
    };
    check(
        &format!("classic, {invocations} invocations, {extensions} extensions, up to {max_faults} faults"),
        config,
        &[CLEAN, SHUTDOWN_MID, FATAL, REDELIVERED, RETRIES_OUT],
    );
}

const PIPELINED: &str = "a next pipelined behind an answer brings an invocation";
const UNSERVED: &str = "a pipelined next the server never read is sent again";

#[test]
fn classic_pipelining_with_faults_of_every_kind() {
    let (invocations, extensions, max_faults) = bound((3, 2, 2), (3, 2, 3));
    let config = SimConfig {
        subscribe: true,
        max_faults,
        faults: Faults::ALL,
        // Even invocations stream (never pipelined), odd ones fail
        // (buffered error reports, pipelined).
        hosts: Hosts { pipelining: true, streaming: true, ..Hosts::default() },
        ..SimConfig::classic(invocations, extensions)
    };
    check(
        &format!(
            "classic, pipelining and streaming, {invocations} invocations, {extensions} extensions, up to {max_faults} faults"
        ),
        config,
        &[CLEAN, SHUTDOWN_MID, FATAL, REDELIVERED, RETRIES_OUT, PIPELINED],
    );
}

#[test]
fn pipelining_hosts_that_answer_too_much_or_twice() {
    // Not streaming: `r2` must be a buffered answer for its 413.
    let hosts = Hosts { pipelining: true, oversized_response: true, answer_twice: true, ..Hosts::default() };
    let config = SimConfig { hosts, max_faults: 1, faults: Faults::ALL, ..SimConfig::classic(3, 1) };
    check("classic, pipelining hosts: 413, answering twice", config.clone(), &[CLEAN, PIPELINED, UNSERVED]);
    let managed = SimConfig { mode: concurrent(2), ..config };
    check("concurrency 2, pipelining hosts", managed, &[CLEAN, TWO, PIPELINED, UNSERVED]);
}

#[test]
fn managed_instances_with_faults() {
    let (max, invocations, max_faults) = bound((2, 3, 2), (2, 3, 3));
    let config = SimConfig {
        mode: concurrent(max),
        subscribe: true,
        max_faults,
        faults: Faults::ALL,
        ..SimConfig::classic(invocations, 2)
    };
    check(
        &format!("concurrency {max}, {invocations} invocations, 2 extensions, up to {max_faults} faults"),
        config,
        &[CLEAN, TWO, FATAL, SHUTDOWN_MID, REDELIVERED, RETRIES_OUT, GONE],
    );
}

#[test]
fn managed_instances_concurrency_three() {
    let config = SimConfig { mode: concurrent(3), ..SimConfig::classic(bound(3, 5), 1) };
    check("concurrency 3, no faults", config, &[CLEAN, TWO]);
}

/// Explores a configuration with a planted bug and returns the first
/// property the checker found violated, with the length of its path.
fn counterexample(config: SimConfig, property: &'static str) -> usize {
    let checker = ProtocolModel { config }.checker().spawn_bfs().join();
    let path = checker.discovery(property).unwrap_or_else(|| panic!("no counterexample for {property:?}"));
    let actions = path.into_actions();
    assert!(!actions.is_empty());
    actions.len()
}

#[test]
fn classic_hosts_that_stream_answer_too_much_or_twice_and_an_invoke_only_extension() {
    let hosts = Hosts {
        streaming: true,
        oversized_response: true,
        answer_twice: true,
        invoke_only_extension: true,
        ..Hosts::default()
    };
    let config = SimConfig { hosts, max_faults: 1, faults: Faults::ALL, ..SimConfig::classic(2, 2) };
    check("classic hosts: streaming, 413, answering twice, INVOKE-only extension", config, &[CLEAN]);
}

#[test]
fn failed_inits_and_extension_failures_reset_the_environment() {
    let cases = [
        ("the runtime's init fails", Hosts { runtime_init_error: true, ..Hosts::default() }),
        ("an extension's init fails", Hosts { extension_init_error: true, ..Hosts::default() }),
        ("an extension fails on INVOKE", Hosts { extension_exit_error: true, ..Hosts::default() }),
    ];
    for (label, hosts) in cases {
        let config = SimConfig { hosts, max_faults: 1, faults: Faults::ALL, ..SimConfig::classic(2, 2) };
        check(label, config, &[]);
    }
}

#[test]
fn managed_instances_extension_rules() {
    let hosts = Hosts { refused_subscription: true, ..Hosts::default() };
    let refused = SimConfig { mode: concurrent(2), hosts, ..SimConfig::classic(2, 2) };
    check("concurrency 2, a subscription Managed Instances refuse", refused, &[]);
    let hosts = Hosts { invoke_only_extension: true, streaming: true, ..Hosts::default() };
    let config = SimConfig {
        mode: concurrent(2),
        subscribe: true,
        hosts,
        max_faults: 1,
        faults: Faults::ALL,
        ..SimConfig::classic(2, 2)
    };
    check("concurrency 2, subscribed, streaming, an extension asking for INVOKE", config, &[CLEAN, TWO]);
}

/// Each planted bug, with the smallest configuration that reaches it and
/// the property it must break.
#[test]
fn a_forwarding_extension_loses_no_record_at_a_freeze_or_at_shutdown() {
    let (invocations, max_faults) = bound((2, 1), (3, 2));
    let config = SimConfig {
        subscribe: true,
        forward: true,
        max_faults,
        faults: Faults::ALL,
        ..SimConfig::classic(invocations, 1)
    };
    check("classic, forwarding, with faults", config, &[CLEAN, FORWARDED, SHUTDOWN_MID]);
    let managed = SimConfig {
        mode: concurrent(2),
        subscribe: true,
        forward: true,
        max_faults: 1,
        faults: Faults::ALL,
        ..SimConfig::classic(2, 1)
    };
    check("Managed Instances, forwarding, with faults", managed, &[CLEAN, FORWARDED, TWO]);
}

fn planted(bug: Bug) -> (SimConfig, &'static str) {
    let one_fault = |faults: Faults, base: SimConfig| SimConfig { max_faults: 1, faults, ..base };
    let with = |base: SimConfig| SimConfig { bug: Some(bug), ..base };
    match bug {
        Bug::AnswerTwice => (with(SimConfig::classic(1, 0)), "every invocation is answered at most once"),
        Bug::PollAfterExit => (with(SimConfig::classic(1, 1)), "no machine sends a request after it exited"),
        Bug::IgnoreFatal => (
            with(one_fault(Faults { status_500: true, ..Faults::NONE }, SimConfig::classic(1, 0))),
            "a fatal status stops a machine for good",
        ),
        Bug::SkipRegister => (with(SimConfig::classic(1, 1)), "no extension polls before a successful register"),
        Bug::MadeUpRequestId => {
            (with(SimConfig::classic(1, 0)), "every request id and extension id was issued by the platform")
        }
        Bug::Pipeline => {
            (with(SimConfig::classic(1, 0)), "one request at a time per connection, and hosts are never refused")
        }
        Bug::IgnoreShutdown => (with(SimConfig::classic(1, 1)), "after shutdown every client stops"),
        Bug::DropInvocation => (
            with(SimConfig::classic(1, 0)),
            "unless a client failed or the platform ended invocations itself, every invocation is answered exactly once by the end",
        ),
        Bug::NoBackoff => (
            with(one_fault(Faults { lose_request: true, ..Faults::NONE }, SimConfig::classic(1, 0))),
            "a failed request is resent only after its back-off, and only while retries last",
        ),
        Bug::PhantomInitNext => {
            (with(SimConfig::classic(1, 1)), "init completes only after the runtime and every extension called next")
        }
        Bug::PhantomInvokeNext => {
            (with(SimConfig::classic(2, 1)), "classic delivery waits for every INVOKE extension's next")
        }
        Bug::RepeatInvoke => (with(SimConfig::classic(1, 1)), "an extension gets each INVOKE once"),
        Bug::SkipBusyShutdown => (
            with(one_fault(Faults { early_shutdown: true, ..Faults::NONE }, SimConfig::classic(1, 1))),
            "SHUTDOWN reaches exactly the extensions registered for it, busy or not",
        ),
        Bug::ShutdownToInvokeOnly => (
            with(SimConfig {
                hosts: Hosts { invoke_only_extension: true, ..Hosts::default() },
                ..SimConfig::classic(1, 1)
            }),
            "SHUTDOWN reaches exactly the extensions registered for it, busy or not",
        ),
        Bug::ForgetExpired => (
            with(one_fault(
                Faults { expire: true, ..Faults::NONE },
                SimConfig { mode: concurrent(2), ..SimConfig::classic(1, 0) },
            )),
            "an expired id is answered 410 while the platform remembers it",
        ),
        Bug::DoubleOutcome => (
            with(SimConfig::classic(1, 0)),
            "every invocation ends exactly once: never two outcomes, and one by the end",
        ),
        Bug::NextBeforeFlush | Bug::ExitBeforeFlush => {
            (with(SimConfig { subscribe: true, forward: true, ..SimConfig::classic(1, 1) }), NOT_LOST)
        }
    }
}

const BUGS: [Bug; 18] = [
    Bug::AnswerTwice,
    Bug::PollAfterExit,
    Bug::IgnoreFatal,
    Bug::SkipRegister,
    Bug::MadeUpRequestId,
    Bug::Pipeline,
    Bug::IgnoreShutdown,
    Bug::DropInvocation,
    Bug::NoBackoff,
    Bug::PhantomInitNext,
    Bug::PhantomInvokeNext,
    Bug::RepeatInvoke,
    Bug::SkipBusyShutdown,
    Bug::ShutdownToInvokeOnly,
    Bug::ForgetExpired,
    Bug::DoubleOutcome,
    Bug::NextBeforeFlush,
    Bug::ExitBeforeFlush,
];

#[test]
fn every_planted_bug_breaks_its_property_and_the_correct_system_does_not() {
    for bug in BUGS {
        let (config, property) = planted(bug);
        assert!(properties().iter().any(|p| p.name == property), "unknown property {property}");
        let steps = counterexample(config.clone(), property);
        println!("{bug:?}: {property:?} broken after {steps} steps");
        let correct =
            ProtocolModel { config: SimConfig { bug: None, ..config } }.checker().spawn_bfs().join();
        for p in properties().iter().filter(|p| p.kind == Kind::Always) {
            correct.assert_no_discovery(p.name);
        }
    }
}

#[test]
fn every_always_property_is_guarded_by_a_planted_bug() {
    let guarded: Vec<&str> = BUGS.iter().map(|&bug| planted(bug).1).collect();
    for property in properties().iter().filter(|p| p.kind == Kind::Always) {
        assert!(guarded.contains(&property.name), "no planted bug breaks {:?}", property.name);
    }
}
