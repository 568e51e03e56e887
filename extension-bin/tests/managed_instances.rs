//! The prebuilt extension under the emulator in Managed Instances mode: it
//! used to ask for INVOKE, get 403 and crash at init, so the function could
//! not start. It now registers for SHUTDOWN, subscribes with the schema the
//! mode requires, and exits cleanly at SHUTDOWN.

#![allow(clippy::unwrap_used)]

use std::num::NonZeroU16;
use std::path::PathBuf;
use std::time::Duration;

use lambda_sansio::extension::EventType;
use lambda_sansio::platform::PlatformEvent;
use lambda_sansio::runtime::Mode;
use lambda_sansio_emulator::{Emulator, EmulatorConfig};

#[tokio::test(flavor = "multi_thread")]
async fn the_extension_starts_and_stops_cleanly_under_managed_instances() {
    let extension = PathBuf::from(env!("CARGO_BIN_EXE_lambda-sansio-extension"));
    let config = EmulatorConfig {
        mode: Mode::Concurrent { max: NonZeroU16::new(2).unwrap() },
        extensions: vec![extension],
        register_wait: Duration::from_secs(10),
        ..EmulatorConfig::default()
    };
    let emulator = Emulator::start(config).await.unwrap();
    let mut events = emulator.events();
    let (mut registered, mut schema) = (None, None);
    while schema.is_none() {
        match tokio::time::timeout(Duration::from_secs(10), events.recv()).await {
            Ok(Ok(PlatformEvent::ExtensionRegistered { events, .. })) => registered = Some(events),
            Ok(Ok(PlatformEvent::Subscribed { subscription, .. })) => {
                schema = Some(subscription.schema_version().to_owned())
            }
            Ok(Ok(_)) => {}
            other => panic!("the extension did not register and subscribe: {other:?}"),
        }
    }
    assert_eq!(registered, Some(vec![EventType::Shutdown]));
    assert_eq!(schema.as_deref(), Some("2025-01-29"));
    let report = emulator.shutdown().await;
    let (name, status, killed) = &report.processes[0];
    assert_eq!(name, "lambda-sansio-extension");
    assert!(!killed && status.is_some_and(|s| s.success()), "{status:?}");
}
