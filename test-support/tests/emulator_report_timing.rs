//! When the emulator delivers an invocation's telemetry, as PROTOCOL.md
//! says Lambda does: `platform.runtimeDone` when the runtime answers,
//! `platform.report` only once every extension called `next`, with a
//! duration that includes the extensions' work; and a shutdown asked for
//! right after the answer waits for that work instead of cutting it off.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use bytes::Bytes;
use lambda_sansio_emulator::{Emulator, EmulatorConfig, InvokeOutcome};
use lambda_sansio_test_support::support;

/// An extension (Python, standard library only) that subscribes to platform
/// telemetry, works 300 ms after each INVOKE before calling `next`, and at
/// SHUTDOWN writes every record it received, in order, to `$RECORDS_FILE`.
const SLOW_EXTENSION: &str = r#"
import http.server, json, os, sys, threading, time, urllib.request
records = []
class Listener(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        records.extend(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200); self.end_headers()
    def log_message(self, *args): pass
server = http.server.HTTPServer(("127.0.0.1", 0), Listener)
threading.Thread(target=server.serve_forever, daemon=True).start()
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"]
def call(method, path, body=None, headers={}):
    data = json.dumps(body).encode() if body is not None else None
    return urllib.request.urlopen(urllib.request.Request(api + path, data=data, headers=headers, method=method))
answer = call("POST", "/2020-01-01/extension/register", {"events": ["INVOKE", "SHUTDOWN"]},
              {"Lambda-Extension-Name": os.path.basename(sys.argv[0])})
me = {"Lambda-Extension-Identifier": answer.headers["Lambda-Extension-Identifier"]}
call("PUT", "/2022-07-01/telemetry", {"schemaVersion": "2022-12-13", "types": ["platform"],
     "buffering": {"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25},
     "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:%d/" % server.server_port}}, me)
while True:
    event = json.loads(call("GET", "/2020-01-01/extension/event/next", headers=me).read())
    if event["eventType"] == "SHUTDOWN":
        time.sleep(0.3)
        with open(os.environ["RECORDS_FILE"], "w") as out:
            json.dump(records, out)
        sys.exit(0)
    time.sleep(0.3)
"#;

#[tokio::test(flavor = "multi_thread")]
async fn the_report_waits_for_the_extensions_and_counts_their_time() {
    let dir = std::env::temp_dir().join(format!("lambda-sansio-report-timing-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let extension = dir.join("slow-extension");
    std::fs::write(&extension, format!("#!/usr/bin/env python3\n{SLOW_EXTENSION}")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&extension, std::fs::Permissions::from_mode(0o755)).unwrap();
    let records_file = dir.join("records.json");
    let config = EmulatorConfig {
        bootstrap: Some(support::example("blocking_echo")),
        extensions: vec![extension],
        env: vec![("RECORDS_FILE".into(), records_file.display().to_string())],
        ..Default::default()
    };
    let emulator = Emulator::start(config).await.unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(20), emulator.invoke(Bytes::from_static(b"{}")))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(outcome, InvokeOutcome::Response(Bytes::from_static(b"{}")));
    emulator.shutdown().await;
    let records: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(&records_file).unwrap()).unwrap();
    let position = |kind: &str| {
        records.iter().position(|r| r["type"] == kind).unwrap_or_else(|| panic!("no {kind}: {records:?}"))
    };
    let (done, report) = (position("platform.runtimeDone"), position("platform.report"));
    assert!(done < report, "runtimeDone first: {records:?}");
    let duration = |at: usize| records[at]["record"]["metrics"]["durationMs"].as_f64().unwrap();
    assert!(duration(done) < 300.0, "the runtime answered at once: {}", duration(done));
    assert!(duration(report) >= 300.0, "the report counts the extension's 300 ms: {}", duration(report));
    std::fs::remove_dir_all(&dir).unwrap();
}
