//! What an invocation returned, and how to say it to a person.

use std::fmt;

use bytes::Bytes;

/// What an invoke returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvokeOutcome {
    /// The function's response.
    Response(Bytes),
    /// The function's error report: `(errorType, body)`.
    Error(String, Bytes),
    /// The function did not answer before its timeout.
    TimedOut,
    /// The environment shut down or its runtime died first.
    Aborted(String),
}

/// A sentence: "the invocation succeeded", or how it failed (the error's
/// `errorMessage` when its body is a Lambda error object, else the body).
impl fmt::Display for InvokeOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Response(_) => f.write_str("the invocation succeeded"),
            Self::Error(error_type, body) => {
                let message = serde_json::from_slice::<serde_json::Value>(body)
                    .ok()
                    .and_then(|v| v.get("errorMessage").and_then(|m| m.as_str()).map(str::to_owned))
                    .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
                write!(f, "the invocation failed with {error_type}: {message}")
            }
            Self::TimedOut => f.write_str("the invocation timed out"),
            Self::Aborted(reason) => write!(f, "the invocation was aborted: {reason}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_read_as_sentences() {
        let error = InvokeOutcome::Error(
            "Function.Boom".into(),
            Bytes::from_static(br#"{"errorType":"Function.Boom","errorMessage":"it broke"}"#),
        );
        assert_eq!(error.to_string(), "the invocation failed with Function.Boom: it broke");
        let raw = InvokeOutcome::Error("Runtime.Unknown".into(), Bytes::from_static(b"not json"));
        assert_eq!(raw.to_string(), "the invocation failed with Runtime.Unknown: not json");
        assert_eq!(InvokeOutcome::TimedOut.to_string(), "the invocation timed out");
        assert_eq!(
            InvokeOutcome::Aborted("the runtime exited".into()).to_string(),
            "the invocation was aborted: the runtime exited"
        );
        assert_eq!(InvokeOutcome::Response(Bytes::new()).to_string(), "the invocation succeeded");
    }
}
