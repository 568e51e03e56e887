//! Scenarios through the emulator for the conformance findings: retries in
//! concurrent mode, Managed Instances extensions, content types, answers
//! larger than the emulator reads.

use std::num::NonZeroU16;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use lambda_sansio::platform::{Outcome, PlatformEvent};
use lambda_sansio::runtime::Mode;
use lambda_sansio::telemetry::{Buffering, RecordCategory, Subscription, SubscriptionApi};
use lambda_sansio_emulator::{EmulatorConfig, Fault, FaultRule, InvokeOutcome};

use super::{config_for, echo, emulator, handler, invoke, response, Driver};

/// Item 6: a request that failed and was retried in concurrent mode goes
/// out (the blocking pool once left it unsent and served nothing, forever),
/// with one slot and with several.
pub async fn retries_in_concurrent_mode_are_sent<D: Driver>() {
    for (max, nth) in [(1u16, 1u64), (1, 2), (3, 2), (3, 4)] {
        let mode = Mode::Concurrent { max: NonZeroU16::new(max).unwrap() };
        let faults = vec![FaultRule { nth, fault: Fault::Reset }];
        let emulator = emulator(EmulatorConfig { mode, faults, ..EmulatorConfig::default() }).await;
        D::start_runtime(config_for(&emulator, mode), echo());
        for payload in ["\"a\"", "\"b\"", "\"c\""] {
            assert_eq!(
                invoke(&emulator, payload).await,
                response(payload),
                "max {max}, reset of request {nth}"
            );
        }
    }
}

/// Items 2 to 4: under Managed Instances an extension that asks for INVOKE
/// and SHUTDOWN registers for SHUTDOWN only (INVOKE would be refused 403),
/// subscribes with the `2025-01-29` schema on `sandbox.localdomain` (anything
/// else is refused 400), receives telemetry and gets SHUTDOWN.
pub async fn managed_instances_extensions_get_shutdown_and_telemetry<D: Driver>() {
    let mode = Mode::Concurrent { max: NonZeroU16::new(2).unwrap() };
    let config =
        EmulatorConfig { mode, external_names: vec!["observer".into()], ..EmulatorConfig::default() };
    let emulator = emulator(config).await;
    let (destination, records) = D::listen_telemetry();
    assert!(destination.starts_with("http://sandbox.localdomain:"), "{destination}");
    let buffering = Buffering { max_items: 1_000, max_bytes: 262_144, timeout_ms: 25 };
    let subscription =
        Subscription::new(SubscriptionApi::Telemetry, &[RecordCategory::Platform], buffering, &destination)
            .unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let extension =
        D::start_managed_extension(emulator.runtime_api(), "observer", subscription, Arc::clone(&log));
    let mut events = emulator.events();
    let subscribed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match events.recv().await {
                Ok(PlatformEvent::Subscribed { subscription, .. }) => return subscription,
                Ok(_) => {}
                Err(error) => panic!("no subscription: {error}"),
            }
        }
    })
    .await
    .expect("the extension subscribed");
    assert_eq!(subscribed.schema_version(), "2025-01-29");
    D::start_runtime(config_for(&emulator, mode), echo());
    assert_eq!(invoke(&emulator, "1").await, response("1"));
    emulator.shutdown().await;
    let result = super::stopped(extension).await;
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(*log.lock().unwrap(), vec!["shutdown spindown"], "no INVOKE under Managed Instances");
    assert!(!records.lock().unwrap().is_empty(), "telemetry arrived");
}

/// Item 5: answers carry a content type: `application/json` from the json
/// helper, `application/octet-stream` for raw bytes.
pub async fn answers_carry_their_content_type<D: Driver>() {
    for (json, expected) in [(true, "application/json"), (false, "application/octet-stream")] {
        let emulator = emulator(EmulatorConfig::default()).await;
        let config = config_for(&emulator, Mode::Classic);
        if json {
            D::start_json_runtime(config);
        } else {
            D::start_runtime(config, echo());
        }
        let mut events = emulator.events();
        assert_eq!(invoke(&emulator, "{\"a\":1}").await, response("{\"a\":1}"));
        let content_type = loop {
            match events.recv().await {
                Ok(PlatformEvent::InvocationCompleted {
                    outcome: Outcome::Response { content_type, .. },
                    ..
                }) => break content_type,
                Ok(_) => {}
                Err(error) => panic!("{error}"),
            }
        };
        assert_eq!(content_type.as_ref().and_then(|v| v.to_str().ok()), Some(expected));
    }
}

/// Item 1, end to end: a buffered answer over the limit (one the platform
/// machine reads, and one larger than the emulator reads at all) ends its
/// invocation as `Function.ResponseSizeTooLarge`; the next one is served by
/// the same runtime.
pub async fn oversized_answers_end_their_invocation<D: Driver>() {
    let emulator = emulator(EmulatorConfig::default()).await;
    let h = handler(|payload, _| match &payload[..] {
        b"\"big\"" => Ok(Bytes::from(vec![b'x'; 6 * 1024 * 1024 + 200])),
        b"\"huge\"" => Ok(Bytes::from(vec![b'x'; 10 * 1024 * 1024])),
        _ => Ok(payload),
    });
    let runtime = D::start_runtime(config_for(&emulator, Mode::Classic), h);
    for payload in ["\"big\"", "\"huge\""] {
        let InvokeOutcome::Error(error_type, _) = invoke(&emulator, payload).await else {
            panic!("{payload}")
        };
        assert_eq!(error_type, "Function.ResponseSizeTooLarge", "{payload}");
        assert_eq!(invoke(&emulator, "\"next\"").await, response("\"next\""), "after {payload}");
    }
    assert!(!runtime.is_finished(), "no 403 killed the runtime");
}
