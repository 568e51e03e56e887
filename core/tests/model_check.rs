//! Exhaustive breadth-first exploration of the composed client/platform
//! state space with stateright, over the real machines (`lambda_sansio::sim`).
//!
//! Small bounds run in every `cargo test`; set `LAMBDA_SANSIO_MODEL=deep`
//! for deeper ones (more invocations, extensions, concurrency and faults).

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::num::NonZeroU16;
use std::time::Instant;

use lambda_sansio::runtime::Mode;
use lambda_sansio::sim::{properties, Action, Bug, Faults, Kind, SimConfig, World};
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
        let all = wrap!(0 1 2 3 4 5 6 7 8 9 10 11 12);
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
    let (invocations, extensions, max_faults) = bound((3, 2, 2), (4, 3, 3));
    let config = SimConfig {
        subscribe: true,
        max_faults,
        faults: Faults::ALL,
        ..SimConfig::classic(invocations, extensions)
    };
    check(
        &format!("classic, {invocations} invocations, {extensions} extensions, up to {max_faults} faults"),
        config,
        &[CLEAN, SHUTDOWN_MID, FATAL],
    );
}

#[test]
fn managed_instances_with_faults() {
    let (max, invocations, max_faults) = bound((2, 3, 2), (3, 4, 2));
    let config = SimConfig {
        mode: concurrent(max),
        max_faults,
        faults: Faults::ALL,
        ..SimConfig::classic(invocations, 2)
    };
    check(
        &format!("concurrency {max}, {invocations} invocations, 2 extensions, up to {max_faults} faults"),
        config,
        &[CLEAN, TWO, FATAL, SHUTDOWN_MID],
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
fn the_checker_finds_an_invocation_answered_twice() {
    let config = SimConfig { bug: Some(Bug::AnswerTwice), ..SimConfig::classic(1, 0) };
    counterexample(config, "every invocation is answered at most once");
}

#[test]
fn the_checker_finds_a_poll_after_exit() {
    let config = SimConfig { bug: Some(Bug::PollAfterExit), ..SimConfig::classic(1, 1) };
    counterexample(config, "no machine sends a request after it exited");
}

#[test]
fn the_checker_finds_an_ignored_fatal_status() {
    let config = SimConfig {
        bug: Some(Bug::IgnoreFatal),
        max_faults: 1,
        faults: Faults { status_500: true, ..Faults::NONE },
        ..SimConfig::classic(1, 0)
    };
    counterexample(config, "a fatal status stops a machine for good");
}

#[test]
fn the_checker_finds_a_poll_before_register() {
    let config = SimConfig { bug: Some(Bug::SkipRegister), ..SimConfig::classic(1, 1) };
    counterexample(config, "no extension polls before a successful register");
}

#[test]
fn the_correct_clients_pass_the_configurations_the_bugs_fail() {
    for config in [
        SimConfig::classic(1, 0),
        SimConfig::classic(1, 1),
        SimConfig {
            max_faults: 1,
            faults: Faults { status_500: true, ..Faults::NONE },
            ..SimConfig::classic(1, 0)
        },
    ] {
        let checker = ProtocolModel { config }.checker().spawn_bfs().join();
        for property in properties().iter().filter(|p| p.kind == Kind::Always) {
            checker.assert_no_discovery(property.name);
        }
    }
}
