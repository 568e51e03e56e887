//! What the tests of every lambda-sansio crate share: the conformance suite
//! both transports pass (through the emulator and against a scripted hostile
//! platform), hostile HTTP servers, interop helpers that install clients no
//! one here wrote, and the end-to-end benchmark (an example). Not published.

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod bench_cli;
pub mod conformance;
pub mod hostile_server;
pub mod scratch;
pub mod sink;
pub mod support;
pub mod usage;
pub mod venv;

/// The README's code, compiled by `cargo test` as doc tests (each snippet
/// names the dependencies it needs; this crate has them all), so the
/// snippets a newcomer pastes keep compiling.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeSnippets;
