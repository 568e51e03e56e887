//! Async (tokio + hyper 1) drivers for the `lambda-sansio` machines, and a
//! local Lambda emulator (feature `emulator`).

#![cfg_attr(not(test), deny(clippy::unwrap_used))]

#[cfg(feature = "emulator")]
pub mod emulator;
pub mod oneshot;
