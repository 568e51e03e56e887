//! What the machines tell a host about refusals and errors: which are
//! permanent, which are fatal, and the sentences a user reads.

#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use lambda_sansio::extension::{
    EventType, ExtensionConfig, ExtensionError, ExtensionEvent, ExtensionMachine, SubscriptionRefusal,
};
use lambda_sansio::{ApiAddress, ExtensionName, ServerError, Token};

fn server(error_type: &str) -> ServerError {
    ServerError::from_body(format!(r#"{{"errorType":"{error_type}","errorMessage":"bad"}}"#).as_bytes())
}

#[test]
fn only_a_400_validation_error_is_a_permanent_refusal() {
    let refusal = |status, error_type| SubscriptionRefusal { status, server: server(error_type) };
    assert!(refusal(400, "ValidationError").is_permanent());
    assert!(!refusal(400, "Telemetry.NotSupported").is_permanent());
    assert!(!refusal(403, "ValidationError").is_permanent());
    assert!(!refusal(202, "Telemetry.NotSupported").is_permanent());
}

#[test]
fn a_refusal_reads_as_a_sentence() {
    let refusal = SubscriptionRefusal { status: 400, server: server("ValidationError") };
    assert_eq!(
        refusal.to_string(),
        "the telemetry subscription was refused with status 400 (ValidationError: bad)"
    );
}

fn machine() -> ExtensionMachine {
    let address = ApiAddress::parse("127.0.0.1:9001").unwrap();
    let name = ExtensionName::new("ext").unwrap();
    ExtensionMachine::new(ExtensionConfig::new(address, name, &[EventType::Shutdown]))
}

#[test]
fn misuse_of_the_extension_machine_is_not_fatal_and_changes_nothing() {
    let mut m = machine();
    let register = m.poll_request().unwrap();
    let stray = m.handle_response(Token(7), http::Response::new(Bytes::new())).unwrap_err();
    assert!(matches!(stray, ExtensionError::UnexpectedResponse(_)) && !stray.is_fatal());
    let early = m.exit().unwrap_err();
    assert!(matches!(early, ExtensionError::NotAllowed { .. }) && !early.is_fatal());
    assert!(m.exit_reason().is_none(), "misuse does not stop the machine");
    let mut refused = http::Response::new(Bytes::from_static(br#"{"errorType":"ServiceException"}"#));
    *refused.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
    let fatal = m.handle_response(register.token, refused).unwrap_err();
    assert!(fatal.is_fatal(), "{fatal}");
    assert!(matches!(m.poll_event(), Some(ExtensionEvent::Exit(_))));
}
