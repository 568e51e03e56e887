//! What the Extensions API sends: the register answer and lifecycle events.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::ids::DeadlineMs;

/// An event an extension can register for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum EventType {
    /// One per invocation.
    Invoke,
    /// Once, before the environment is torn down. Internal extensions may not
    /// register for it.
    Shutdown,
}

impl EventType {
    /// The name on the wire: `INVOKE` or `SHUTDOWN`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invoke => "INVOKE",
            Self::Shutdown => "SHUTDOWN",
        }
    }
}

/// The body of a `200` answer to register. Every field is optional: an
/// emulator may send an empty or unreadable body, which decodes to the default.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterInfo {
    /// `functionName`.
    #[serde(default)]
    pub function_name: Option<String>,
    /// `functionVersion`.
    #[serde(default)]
    pub function_version: Option<String>,
    /// `handler`.
    #[serde(default)]
    pub handler: Option<String>,
    /// `accountId`, sent when the `accountId` feature was accepted.
    #[serde(default)]
    pub account_id: Option<String>,
}

impl RegisterInfo {
    /// Decodes a register body; an empty or unreadable one gives the default.
    pub fn decode(body: &[u8]) -> Self {
        serde_json::from_slice(body).unwrap_or_default()
    }
}

/// The X-Ray tracing header of an INVOKE event.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Tracing {
    /// `type`, e.g. `X-Amzn-Trace-Id`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// `value`.
    #[serde(default)]
    pub value: String,
}

/// An INVOKE event.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvokeEvent {
    /// The invocation's request id (informational: extensions never put it in
    /// a URL).
    #[serde(default)]
    pub request_id: String,
    /// The invocation's deadline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<DeadlineMs>,
    /// The invoked ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoked_function_arn: Option<String>,
    /// X-Ray tracing, when active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing: Option<Tracing>,
}

/// Why the environment shuts down. Read in any case; unknown reasons are kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ShutdownReason {
    /// Normal spin-down.
    Spindown,
    /// The function timed out.
    Timeout,
    /// The runtime or an extension failed.
    Failure,
    /// A reason this version does not know.
    Other(String),
}

impl ShutdownReason {
    /// Parses a reason, ignoring case.
    pub fn parse(text: &str) -> Self {
        match text.to_ascii_lowercase().as_str() {
            "spindown" => Self::Spindown,
            "timeout" => Self::Timeout,
            "failure" => Self::Failure,
            _ => Self::Other(text.to_owned()),
        }
    }

    /// The reason as the platform spells it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Spindown => "spindown",
            Self::Timeout => "timeout",
            Self::Failure => "failure",
            Self::Other(text) => text,
        }
    }
}

impl Serialize for ShutdownReason {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ShutdownReason {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|text| Self::parse(&text))
    }
}

/// A SHUTDOWN event.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShutdownEvent {
    /// Why.
    pub shutdown_reason: ShutdownReason,
    /// When the extension will be killed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<DeadlineMs>,
}

/// A `200` answer to `GET /extension/event/next`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LifecycleEvent {
    /// `"eventType":"INVOKE"`.
    Invoke(InvokeEvent),
    /// `"eventType":"SHUTDOWN"`.
    Shutdown(ShutdownEvent),
    /// An event type this version does not know, with its raw body.
    Other {
        /// `eventType` as sent.
        event_type: String,
        /// The whole body.
        body: Bytes,
    },
}

/// An event body that is not a JSON object with a string `eventType`, or
/// whose known type lacks required fields.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
#[error("malformed extension event: {0}")]
pub struct EventError(pub String);

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    event_type: String,
}

impl LifecycleEvent {
    /// Decodes an event body; unknown event types and fields are kept or
    /// ignored, never an error.
    pub fn decode(body: &Bytes) -> Result<Self, EventError> {
        let envelope: Envelope = serde_json::from_slice(body).map_err(|e| EventError(e.to_string()))?;
        let typed = |e: serde_json::Error| EventError(format!("{}: {e}", envelope.event_type));
        match envelope.event_type.to_ascii_uppercase().as_str() {
            "INVOKE" => serde_json::from_slice(body).map(Self::Invoke).map_err(typed),
            "SHUTDOWN" => serde_json::from_slice(body).map(Self::Shutdown).map_err(typed),
            _ => Ok(Self::Other { event_type: envelope.event_type, body: body.clone() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(json: &str) -> Result<LifecycleEvent, EventError> {
        LifecycleEvent::decode(&Bytes::copy_from_slice(json.as_bytes()))
    }

    #[test]
    fn invoke_decodes_with_and_without_tracing() {
        let event = decode(
            r#"{"eventType":"INVOKE","deadlineMs":1676051009000,"requestId":"3da1f2dc","invokedFunctionArn":"arn:f","tracing":{"type":"X-Amzn-Trace-Id","value":"Root=1"},"newField":1}"#,
        )
        .unwrap();
        let LifecycleEvent::Invoke(invoke) = event else { panic!("{event:?}") };
        assert_eq!(invoke.request_id, "3da1f2dc");
        assert_eq!(invoke.deadline_ms, Some(DeadlineMs(1_676_051_009_000)));
        assert_eq!(invoke.tracing.unwrap().value, "Root=1");
        let bare = decode(r#"{"eventType":"INVOKE","requestId":"r"}"#).unwrap();
        assert!(matches!(bare, LifecycleEvent::Invoke(InvokeEvent { tracing: None, .. })));
    }

    #[test]
    fn shutdown_reason_is_case_insensitive_and_open() {
        for (raw, reason) in [
            ("spindown", ShutdownReason::Spindown),
            ("SPINDOWN", ShutdownReason::Spindown),
            ("Timeout", ShutdownReason::Timeout),
            ("failure", ShutdownReason::Failure),
            ("eviction", ShutdownReason::Other("eviction".into())),
        ] {
            let json = format!(r#"{{"eventType":"SHUTDOWN","shutdownReason":"{raw}","deadlineMs":5}}"#);
            assert_eq!(
                decode(&json).unwrap(),
                LifecycleEvent::Shutdown(ShutdownEvent {
                    shutdown_reason: reason,
                    deadline_ms: Some(DeadlineMs(5))
                })
            );
        }
    }

    #[test]
    fn unknown_events_are_kept_and_garbage_is_an_error() {
        let event = decode(r#"{"eventType":"RESTORE","x":1}"#).unwrap();
        assert!(matches!(event, LifecycleEvent::Other { ref event_type, .. } if event_type == "RESTORE"));
        assert!(decode("").is_err());
        assert!(decode("[1]").is_err());
        assert!(decode(r#"{"eventType":7}"#).is_err());
        assert!(decode(r#"{"eventType":"SHUTDOWN"}"#).is_err());
        assert!(decode(r#"{"eventType":"INVOKE","deadlineMs":"soon"}"#).is_err());
    }

    #[test]
    fn register_info_tolerates_empty_and_partial_bodies() {
        assert_eq!(RegisterInfo::decode(b""), RegisterInfo::default());
        assert_eq!(RegisterInfo::decode(b"not json"), RegisterInfo::default());
        let info = RegisterInfo::decode(
            br#"{"functionName":"f","functionVersion":"$LATEST","handler":"h","accountId":"1"}"#,
        );
        assert_eq!(info.function_name.as_deref(), Some("f"));
        assert_eq!(info.account_id.as_deref(), Some("1"));
    }
}
