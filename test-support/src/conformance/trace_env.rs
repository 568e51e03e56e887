//! `_X_AMZN_TRACE_ID` in the process environment: set for each invocation
//! by a classic runtime that asks for it, never by one that does not, nor in
//! concurrent mode. The only scenario that touches the environment, so the
//! suite's scenarios, which share one process, never see each other's
//! values.

use std::num::NonZeroU16;

use bytes::Bytes;
use lambda_sansio::runtime::{Mode, RuntimeConfig};
use lambda_sansio_emulator::{EmulatorConfig, InvokeOutcome};

use super::{config_for, emulator, handler, invoke, Driver};

const NAME: &str = "_X_AMZN_TRACE_ID";
/// What the handler answers when the variable is not set.
const UNSET: &str = "unset";

/// The handler answers `<variable>|<context's trace id>`.
pub async fn classic_runtimes_export_the_trace_id_when_asked<D: Driver>() {
    let concurrent = Mode::Concurrent { max: NonZeroU16::new(2).unwrap() };
    for (mode, asked) in [(Mode::Classic, true), (Mode::Classic, false), (concurrent, true)] {
        std::env::remove_var(NAME);
        let emulator = emulator(EmulatorConfig { mode, ..EmulatorConfig::default() }).await;
        let config = RuntimeConfig { trace_id_env: asked, ..config_for(&emulator, mode) };
        D::start_runtime(
            config,
            handler(|_, context| {
                let exported = std::env::var(NAME).unwrap_or_else(|_| UNSET.to_owned());
                let traced = context.trace_id.clone().unwrap_or_default();
                Ok(Bytes::from(format!("{exported}|{traced}")))
            }),
        );
        let mut seen = Vec::new();
        for _ in 0..2 {
            let InvokeOutcome::Response(body) = invoke(&emulator, "{}").await else {
                panic!("the invocation failed ({mode:?}, asked: {asked})");
            };
            let text = String::from_utf8(body.to_vec()).unwrap();
            let (exported, traced) = text.split_once('|').unwrap();
            assert!(traced.starts_with("Root=1-"), "the emulator sends a trace id: {traced}");
            if asked && mode == Mode::Classic {
                assert_eq!(exported, traced, "the variable holds this invocation's trace id");
            } else {
                assert_eq!(exported, UNSET, "{mode:?}, asked: {asked}: the environment is not touched");
            }
            seen.push(traced.to_owned());
        }
        assert_ne!(seen[0], seen[1], "each invocation has its own trace id");
        emulator.shutdown().await;
    }
    std::env::remove_var(NAME);
}
