//! Classic (one at a time) or Managed Instances (concurrent) mode.

use std::num::NonZeroU16;

/// How many invocations may be in flight at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Mode {
    /// One invocation at a time (`AWS_LAMBDA_MAX_CONCURRENCY` unset).
    #[default]
    Classic,
    /// Managed Instances: up to `max` `next` polls and answers in flight, each
    /// on its own connection.
    Concurrent {
        /// `AWS_LAMBDA_MAX_CONCURRENCY`.
        max: NonZeroU16,
    },
}

/// `AWS_LAMBDA_MAX_CONCURRENCY` is set but not a positive integer up to 65535.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
#[error("AWS_LAMBDA_MAX_CONCURRENCY={0:?} is not a positive integer up to 65535")]
pub struct ModeError(pub String);

impl Mode {
    /// The mode for the value of `AWS_LAMBDA_MAX_CONCURRENCY` (`None` when unset).
    pub fn from_max_concurrency(value: Option<&str>) -> Result<Self, ModeError> {
        match value {
            None => Ok(Self::Classic),
            Some(text) => text
                .trim()
                .parse::<NonZeroU16>()
                .map(|max| Self::Concurrent { max })
                .map_err(|_| ModeError(text.to_owned())),
        }
    }

    /// Invocations that may be in flight at once.
    pub fn slots(self) -> u16 {
        match self {
            Self::Classic => 1,
            Self::Concurrent { max } => max.get(),
        }
    }

    /// Whether the driver should set `_X_AMZN_TRACE_ID` in the process
    /// environment for each invocation. Only a classic runtime may: in
    /// concurrent mode invocations share the process, so the trace id travels
    /// in the invocation context only.
    pub fn exports_trace_id_env(self) -> bool {
        self == Self::Classic
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_environment_value() {
        assert_eq!(Mode::from_max_concurrency(None), Ok(Mode::Classic));
        let two = Mode::from_max_concurrency(Some(" 2 ")).unwrap();
        assert_eq!(two.slots(), 2);
        assert!(!two.exports_trace_id_env());
        assert!(Mode::Classic.exports_trace_id_env());
        for bad in ["0", "-1", "x", "", "70000"] {
            assert_eq!(Mode::from_max_concurrency(Some(bad)), Err(ModeError(bad.into())));
        }
    }
}
