//! The other sinks and the sidecar endpoint, through the emulator: the file
//! and stdout sinks, forwarding under Managed Instances (no INVOKE, no
//! freeze), and what the sidecar answers to good and bad requests.

#![allow(clippy::unwrap_used)]

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::num::NonZeroU16;
use std::time::Duration;

use lambda_sansio::runtime::Mode;
use lambda_sansio_emulator::InvokeOutcome;
use serde_json::Value;
use support::{Availability, SinkServer};

#[tokio::test(flavor = "multi_thread")]
async fn the_file_sink_appends_every_record_as_a_json_line() {
    let dir = support::scratch("file");
    let file = dir.join("records.jsonl");
    let env = [("LAMBDA_SANSIO_SINK", "file"), ("LAMBDA_SANSIO_SINK_FILE", file.to_str().unwrap())];
    let run = support::run(&dir, &env, &[r#"{"n":1}"#, r#"{"n":2}"#], Duration::from_secs(10)).await;
    let text = std::fs::read_to_string(&file).unwrap();
    let records: Vec<Value> = text.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    support::assert_complete(&records, &run.started, &[1, 2]);
    support::extension_exited_by_itself(&run);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_stdout_sink_writes_platform_records_only_and_a_closing_line() {
    let dir = support::scratch("stdout");
    let run = support::run(&dir, &[], &[r#"{"n":1}"#, r#"{"n":2}"#], Duration::from_secs(10)).await;
    let ours = |stderr: bool| -> Vec<String> {
        run.report
            .output
            .iter()
            .filter(|l| l.process == "lambda-sansio-extension" && l.stderr == stderr)
            .map(|l| l.line.clone())
            .collect()
    };
    let records: Vec<Value> = ours(false).iter().map(|line| serde_json::from_str(line).unwrap()).collect();
    for id in &run.started {
        assert_eq!(support::of(&records, "platform.report", id), 1, "{records:#?}");
    }
    assert!(records.iter().all(|r| r["type"].as_str().unwrap().starts_with("platform.")), "{records:#?}");
    let closing = ours(true);
    let last = closing.last().unwrap();
    assert!(last.starts_with("lambda-sansio-extension: shutdown (spindown): "), "{closing:?}");
    assert!(last.ends_with("0 dropped, 0 undelivered"), "{last}");
}

#[tokio::test(flavor = "multi_thread")]
async fn under_managed_instances_records_are_forwarded_and_flushed_at_shutdown() {
    let dir = support::scratch("managed");
    let sink = SinkServer::start(Availability::Up);
    let url = format!("{}/ingest", sink.url);
    let env = [("LAMBDA_SANSIO_SINK", "http"), ("LAMBDA_SANSIO_SINK_URL", url.as_str())];
    let events: Vec<String> = (1..=4).map(|n| format!(r#"{{"n":{n}}}"#)).collect();
    let events: Vec<&str> = events.iter().map(String::as_str).collect();
    let concurrent = |config: &mut lambda_sansio_emulator::EmulatorConfig| {
        config.mode = Mode::Concurrent { max: NonZeroU16::new(2).unwrap() };
    };
    let run = support::run_watching(&dir, &env, &events, concurrent, Vec::new).await;
    assert!(run.outcomes.iter().all(|o| matches!(o, InvokeOutcome::Response(_))), "{:?}", run.outcomes);
    assert_eq!(run.freezes, 0, "Managed Instances environments are never frozen");
    support::assert_complete(&sink.records("/ingest"), &run.started, &[1, 2, 3, 4]);
    support::extension_exited_by_itself(&run);
}

/// Sends raw bytes to the sidecar and returns the status and JSON body.
fn ask(port: u16, request: &[u8]) -> (u16, Value) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = stream.write_all(request);
    let mut text = Vec::new();
    let _ = stream.read_to_end(&mut text);
    let text = String::from_utf8_lossy(&text).into_owned();
    let status = text.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// Whether the sidecar answers `request` and then closes the connection
/// itself (rather than keeping it open past the 5 s this waits).
fn closes_after(port: u16, request: &[u8]) -> bool {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    stream.write_all(request).unwrap();
    let mut text = Vec::new();
    stream.read_to_end(&mut text).is_ok() && text.starts_with(b"HTTP/1.1 200")
}

fn post(port: u16, body: &[u8]) -> (u16, Value) {
    let head = format!(
        "POST /records HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    ask(port, &[head.as_bytes(), body].concat())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sidecar_answers_good_and_bad_requests_with_their_status() {
    let dir = support::scratch("sidecar");
    let sink = SinkServer::start(Availability::Up);
    let url = format!("{}/ingest", sink.url);
    let port = support::free_port();
    let port_text = port.to_string();
    let env = [
        ("LAMBDA_SANSIO_SINK", "http"),
        ("LAMBDA_SANSIO_SINK_URL", url.as_str()),
        ("LAMBDA_SANSIO_SIDECAR_PORT", port_text.as_str()),
    ];
    let emulator_config = |config: &mut lambda_sansio_emulator::EmulatorConfig| {
        // Asked between invocations: the extension must not be frozen.
        config.freeze = false;
    };
    let questions = move || {
        let answers = vec![
            post(port, br#"{"order":1}"#),
            post(port, br#"[{"order":2},{"order":3}]"#),
            post(port, b"not json"),
            post(port, b"[1,2]"),
            post(port, &vec![b' '; 1024 * 1024 + 1]),
            ask(port, b"GET /health HTTP/1.1\r\nconnection: close\r\n\r\n"),
            ask(port, b"GET /nowhere HTTP/1.1\r\nconnection: close\r\n\r\n"),
            ask(port, b"DELETE /records HTTP/1.1\r\nconnection: close\r\n\r\n"),
            ask(port, b"this is not http\r\n\r\n"),
            ask(port, b"GET /stats HTTP/1.1\r\nconnection: close\r\n\r\n"),
        ];
        let mut answers: Vec<Value> = answers
            .into_iter()
            .map(|(status, body)| serde_json::json!({ "status": status, "body": body }))
            .collect();
        // HTTP/1.0 without keep-alive: answered, then closed by the sidecar.
        answers.push(serde_json::json!({ "closed": closes_after(port, b"GET /health HTTP/1.0\r\n\r\n") }));
        answers
    };
    let run = support::run_watching(&dir, &env, &[r#"{"n":1}"#], emulator_config, questions).await;
    let answers = &run.at_freeze[0];
    assert_eq!(answers[10]["closed"], true, "an HTTP/1.0 client's connection is closed after its answer");
    let statuses: Vec<u64> = answers[..10].iter().map(|a| a["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, [202, 202, 400, 400, 413, 200, 404, 405, 400, 200], "{answers:#?}");
    assert_eq!(answers[1]["body"]["accepted"], 2);
    for refused in &answers[2..5] {
        let message = refused["body"]["error"].as_str().unwrap();
        assert!(
            message.ends_with(|c: char| c.is_alphanumeric() || c == ')' || c == '.'),
            "a sentence: {message}"
        );
    }
    let stats = &answers[9]["body"];
    assert!(stats["received"].as_u64().unwrap() >= 3, "{stats}");
    for key in ["forwarded", "dropped", "queued", "failedBatches"] {
        assert!(stats[key].is_u64(), "{key} in {stats}");
    }
    let orders: Vec<i64> = sink.records("/ingest").iter().filter_map(|r| r["order"].as_i64()).collect();
    assert_eq!(orders, [1, 2, 3], "the function's records, once each, in order");
}
