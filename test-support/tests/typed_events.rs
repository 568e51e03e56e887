//! The typed-event examples (`aws_lambda_events`) run through the emulator
//! with sample events shaped as AWS documents them, and a mismatched event
//! reported as `Runtime.InvalidEvent` with where and why.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use bytes::Bytes;
use lambda_sansio_emulator::{Emulator, EmulatorConfig, InvokeOutcome};
use lambda_sansio_test_support::support;

async fn invoke(example: &str, event: &str) -> InvokeOutcome {
    let config = EmulatorConfig { bootstrap: Some(support::example(example)), ..Default::default() };
    let emulator = Emulator::start(config).await.unwrap();
    let outcome =
        tokio::time::timeout(Duration::from_secs(20), emulator.invoke(Bytes::from(event.to_owned())))
            .await
            .expect("the invocation completes")
            .unwrap();
    emulator.shutdown().await;
    outcome
}

fn json(outcome: InvokeOutcome) -> serde_json::Value {
    let InvokeOutcome::Response(body) = outcome else { panic!("{outcome:?}") };
    serde_json::from_slice(&body).unwrap()
}

#[tokio::test]
async fn an_sqs_batch_reports_only_the_messages_it_could_not_process() {
    let answer = json(invoke("sqs_partial_batch", include_str!("events/sqs.json")).await);
    assert_eq!(
        answer,
        serde_json::json!({"batchItemFailures": [
            {"itemIdentifier": "c80e8021-a70a-42c7-a470-796e1186f753"},
            {"itemIdentifier": "d9f1f1b0-31b2-4e5e-9d7e-0c1c25a6a3f1"},
        ]})
    );
}

#[tokio::test]
async fn an_event_of_the_wrong_shape_is_an_invalid_event_naming_where() {
    let outcome = invoke("sqs_partial_batch", r#"{"Records":[{"messageId":"m1","body":7}]}"#).await;
    let InvokeOutcome::Error(error_type, body) = outcome else { panic!("{outcome:?}") };
    assert_eq!(error_type, "Runtime.InvalidEvent");
    let report: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let message = report["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("at `Records[0].body`") && message.contains("invalid type: integer `7`"),
        "{message}"
    );
}

#[tokio::test]
async fn an_s3_notification_lists_its_objects_with_decoded_keys() {
    let answer = json(invoke("s3_notification", include_str!("events/s3.json")).await);
    assert_eq!(
        answer,
        serde_json::json!([{
            "event": "ObjectCreated:Put",
            "bucket": "amzn-s3-demo-bucket",
            "key": "photos/my photo(1).jpg",
            "size": 1305107,
        }])
    );
}

#[tokio::test]
async fn an_eventbridge_schedule_reports_its_rule_and_time() {
    let answer = json(invoke("eventbridge_schedule", include_str!("events/eventbridge_schedule.json")).await);
    assert_eq!(answer["rule"], "arn:aws:events:us-east-1:123456789012:rule/my-scheduled-rule");
    assert_eq!(answer["scheduledAt"], "2015-10-08T16:53:06+00:00");
    assert!(!answer["requestId"].as_str().unwrap().is_empty());
}
