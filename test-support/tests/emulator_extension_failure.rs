//! An extension that dies while the environment runs fails it, as Lambda
//! does: the environment is reset before the next invocation, instead of
//! waiting forever for the dead extension's `next`.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use bytes::Bytes;
use lambda_sansio_emulator::{Emulator, EmulatorConfig, InvokeOutcome};
use lambda_sansio_test_support::support;

/// An extension (Python, standard library only) that registers, takes its
/// first event and exits.
const DIES_ON_FIRST_EVENT: &str = r#"
import json, os, sys, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2020-01-01/extension"
request = urllib.request.Request(api + "/register", data=json.dumps({"events": ["INVOKE", "SHUTDOWN"]}).encode(),
                                 headers={"Lambda-Extension-Name": os.path.basename(sys.argv[0])}, method="POST")
identifier = urllib.request.urlopen(request).headers["Lambda-Extension-Identifier"]
next_event = urllib.request.Request(api + "/event/next", headers={"Lambda-Extension-Identifier": identifier})
urllib.request.urlopen(next_event).read()
sys.exit(3)
"#;

#[tokio::test]
async fn an_extension_that_dies_resets_the_environment_for_the_next_invocation() {
    let dir = std::env::temp_dir().join(format!("lambda-sansio-dying-ext-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let extension = dir.join("dying-extension");
    std::fs::write(&extension, format!("#!/usr/bin/env python3\n{DIES_ON_FIRST_EVENT}")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&extension, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = EmulatorConfig {
        bootstrap: Some(support::example("blocking_echo")),
        extensions: vec![extension],
        timeout: Duration::from_secs(3),
        ..Default::default()
    };
    let emulator = Emulator::start(config).await.unwrap();
    let first_runtime = emulator.runtime_pid();
    for n in 0..2 {
        let payload = format!("{{\"n\":{n}}}");
        let outcome =
            tokio::time::timeout(Duration::from_secs(20), emulator.invoke(Bytes::from(payload.clone())))
                .await
                .expect("the invocation ends")
                .unwrap();
        assert_eq!(outcome, InvokeOutcome::Response(Bytes::from(payload)), "invocation {n}");
    }
    assert_ne!(emulator.runtime_pid(), first_runtime, "a fresh environment ran the second invocation");
    emulator.shutdown().await;
    std::fs::remove_dir_all(&dir).unwrap();
}
