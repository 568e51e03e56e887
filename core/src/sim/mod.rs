//! The composed system the model checker and the fuzzers explore (feature
//! `sim`).
//!
//! A [`World`] holds the real [`RuntimeMachine`](crate::runtime::RuntimeMachine),
//! real [`ExtensionMachine`](crate::extension::ExtensionMachine)s and the real
//! [`PlatformMachine`](crate::platform::PlatformMachine), joined by a network
//! that delivers each message when an [`Action`] says so and may instead lose
//! it, fail it with `500`, break a delivery (the platform sees the write
//! fail), drop a parked poll, expire an invocation or shut the environment
//! down early; back-off timers fire as steps of their own, so they may be
//! late. Nothing here re-implements protocol logic: the world only moves
//! messages and plays the hosts (a handler that answers, streams or answers
//! twice; extensions that acknowledge events, fail, or exit on SHUTDOWN).
//! Planted bugs, client- or platform-side, live here too and nowhere else.
//!
//! [`World::actions`] and [`World::step`] are the one step function shared by
//! the stateright model, the `sim` fuzz target and its corpus replay; the
//! properties in [`properties`] are checked after every step.

mod config;
mod faulty;
pub mod fuzz;
#[cfg(feature = "http")]
pub mod fuzz_http;
mod hosts;
mod network;
mod observer;
mod pipeline;
mod properties_impl;
mod telemetry;
mod wire;
mod world;

pub use config::{Bug, Faults, Hosts, SimConfig};
pub use properties_impl::{properties, Kind, Property};
pub use wire::{WireRequest, WireResponse};
pub use world::{Action, Conn, Violation, World};
