//! The prebuilt extension as a process against a fake Extensions API: a
//! subscription Lambda will never accept fails init, loudly; one an
//! emulator does not support is one warning line and the extension runs on.

#![allow(clippy::unwrap_used)]

mod support;

use std::io::{BufReader, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

/// Serves register, the telemetry subscription (answered `subscribe`),
/// `event/next` (SHUTDOWN) and the error reports; returns the address and
/// the `METHOD path` of every request.
fn fake_api(subscribe: String) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (log, subscribe) = (Arc::clone(&log), subscribe.clone());
            std::thread::spawn(move || {
                let mut writer = stream.try_clone().unwrap();
                let mut reader = BufReader::new(stream);
                while let Some((line, _body)) = support::read_request(&mut reader) {
                    let request: Vec<&str> = line.split_whitespace().take(2).collect();
                    let request = request.join(" ");
                    log.lock().unwrap().push(request.clone());
                    let answer = match request.as_str() {
                        r if r.ends_with("/extension/register") => {
                            ok(200, "lambda-extension-identifier: e1\r\n", "{}")
                        }
                        r if r.ends_with("/telemetry") => subscribe.clone(),
                        r if r.ends_with("/event/next") => ok(
                            200,
                            "",
                            r#"{"eventType":"SHUTDOWN","shutdownReason":"spindown","deadlineMs":1}"#,
                        ),
                        _ => ok(202, "", r#"{"status":"OK"}"#),
                    };
                    writer.write_all(answer.as_bytes()).unwrap();
                }
            });
        }
    });
    (address, seen)
}

fn ok(status: u16, headers: &str, body: &str) -> String {
    format!("HTTP/1.1 {status} OK\r\n{headers}content-length: {}\r\n\r\n{body}", body.len())
}

fn run_extension(api: &str) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_lambda-sansio-extension"))
        .env("AWS_LAMBDA_RUNTIME_API", api)
        .env("AWS_LAMBDA_INITIALIZATION_TYPE", "lambda-managed-instances")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn a_subscription_lambda_refuses_fails_init_with_the_cause() {
    let refused = ok(400, "", r#"{"errorType":"ValidationError","errorMessage":"bad schemaVersion"}"#);
    let (api, seen) = fake_api(refused);
    let (success, stderr) = run_extension(&api);
    assert!(!success, "{stderr}");
    assert!(stderr.contains("ValidationError") && stderr.contains("bad schemaVersion"), "{stderr}");
    let seen = seen.lock().unwrap();
    assert!(seen.iter().any(|r| r.ends_with("/extension/init/error")), "init error reported: {seen:?}");
    assert!(!seen.iter().any(|r| r.ends_with("/event/next")), "{seen:?}");
}

#[test]
fn a_subscription_an_emulator_does_not_support_is_a_warning() {
    let unsupported = ok(202, "", r#"{"errorType":"Telemetry.NotSupported"}"#);
    let (api, seen) = fake_api(unsupported);
    let (success, stderr) = run_extension(&api);
    assert!(success, "{stderr}");
    assert_eq!(stderr.lines().filter(|l| l.contains("warning")).count(), 1, "{stderr}");
    let seen = seen.lock().unwrap();
    assert!(seen.iter().any(|r| r.ends_with("/event/next")), "it ran on: {seen:?}");
    let register = seen.iter().position(|r| r.ends_with("/extension/register")).unwrap();
    assert_eq!(register, 0);
}
