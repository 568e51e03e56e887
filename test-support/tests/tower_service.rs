//! A `tower::Service` as the handler (feature `tower`).

#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use bytes::Bytes;
use lambda_sansio::runtime::RuntimeConfig;
use lambda_sansio::ApiAddress;
use lambda_sansio_emulator::{Emulator, EmulatorConfig, InvokeOutcome};
use lambda_sansio_hyper::HandlerError;
use lambda_sansio_hyper::{run_service_with, LambdaRequest};

/// Upper-cases the payload; refuses an empty one.
#[derive(Clone)]
struct Shout;

impl tower_service::Service<LambdaRequest> for Shout {
    type Response = Bytes;
    type Error = HandlerError;
    type Future = Pin<Box<dyn Future<Output = Result<Bytes, HandlerError>> + Send>>;

    fn poll_ready(&mut self, _: &mut TaskContext<'_>) -> Poll<Result<(), HandlerError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: LambdaRequest) -> Self::Future {
        Box::pin(async move {
            if request.payload.is_empty() {
                return Err(HandlerError::new("Function.Empty", "nothing to shout"));
            }
            Ok(Bytes::from(request.payload.to_ascii_uppercase()))
        })
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_answers_invocations() {
    let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let config = RuntimeConfig::new(ApiAddress::parse(&emulator.runtime_api()).unwrap());
    tokio::spawn(run_service_with(config, Shout));
    let invoke = |payload: &'static [u8]| {
        tokio::time::timeout(Duration::from_secs(20), emulator.invoke(Bytes::from_static(payload)))
    };
    assert_eq!(
        invoke(b"\"hey\"").await.unwrap().unwrap(),
        InvokeOutcome::Response(Bytes::from_static(b"\"HEY\""))
    );
    let outcome = invoke(b"").await.unwrap().unwrap();
    assert!(matches!(outcome, InvokeOutcome::Error(ref t, _) if t == "Function.Empty"), "{outcome:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn json_handlers_decode_events_and_encode_results() {
    let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let config = RuntimeConfig::new(ApiAddress::parse(&emulator.runtime_api()).unwrap());
    let add = lambda_sansio_hyper::json(|numbers: Vec<i64>, _| async move {
        Ok::<_, HandlerError>(numbers.iter().sum::<i64>())
    });
    tokio::spawn(lambda_sansio_hyper::run_with(config, add));
    let invoke = |payload: &'static [u8]| {
        tokio::time::timeout(Duration::from_secs(20), emulator.invoke(Bytes::from_static(payload)))
    };
    assert_eq!(
        invoke(b"[1,2,39]").await.unwrap().unwrap(),
        InvokeOutcome::Response(Bytes::from_static(b"42"))
    );
    // A mismatched event is Runtime.InvalidEvent with serde's reason.
    let outcome = invoke(b"\"not numbers\"").await.unwrap().unwrap();
    let InvokeOutcome::Error(error_type, body) = &outcome else { panic!("{outcome:?}") };
    assert_eq!(error_type, "Runtime.InvalidEvent");
    assert!(String::from_utf8_lossy(body).contains("expected a sequence"), "{outcome:?}");
}
