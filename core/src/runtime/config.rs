//! The settings of a [`RuntimeMachine`] and where they come from.

#[cfg(doc)]
use super::machine::RuntimeMachine;
use super::mode::Mode;
use crate::address::ApiAddress;
use crate::retry::RetryPolicy;

/// Settings of a [`RuntimeMachine`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RuntimeConfig {
    /// `AWS_LAMBDA_RUNTIME_API`.
    pub address: ApiAddress,
    /// Classic or concurrent.
    pub mode: Mode,
    /// What to do when an exchange fails.
    pub retry: RetryPolicy,
    /// Whether the driver pipelines: the `next` that follows a buffered
    /// answer of at most [`PIPELINED_MAX_BODY`] bytes goes out on the same
    /// connection right behind it, before the answer's status is back,
    /// saving a round trip per invocation. Off by default; only a driver
    /// that keeps the contract of [`poll_request`](RuntimeMachine::poll_request)
    /// turns it on (the blocking transport, in classic mode); the others
    /// turn it off.
    pub pipelining: bool,
    /// Whether the driver sets `_X_AMZN_TRACE_ID` in its own process
    /// environment for each invocation, as Lambda asks of runtimes. Only
    /// ever in classic mode (see [`Mode::exports_trace_id_env`]). On by
    /// default. glibc keeps every value `setenv` was ever given, so each
    /// invocation costs the process its trace id's length for good (about
    /// 140 bytes; 140 MB over a million invocations): a host that hands the
    /// trace id to its handler another way turns it off, as `bootstrap`
    /// does (it passes the trace id to each command's environment, in each
    /// worker line and in each web request).
    pub trace_id_env: bool,
}

/// The largest buffered answer body a `next` is pipelined behind. A larger
/// one may be refused unread (`413`), and a server that does so closes the
/// connection; the round trip saved is small beside its transfer anyway.
pub const PIPELINED_MAX_BODY: usize = 64 * 1024;

impl RuntimeConfig {
    /// Classic mode with the default retry policy.
    pub fn new(address: ApiAddress) -> Self {
        Self {
            address,
            mode: Mode::Classic,
            retry: RetryPolicy::default(),
            pipelining: false,
            trace_id_env: true,
        }
    }

    /// The configuration for the values of `AWS_LAMBDA_RUNTIME_API` and
    /// `AWS_LAMBDA_MAX_CONCURRENCY` (`None` when unset). Drivers read the
    /// environment; core only parses.
    pub fn from_env_values(api: Option<&str>, max_concurrency: Option<&str>) -> Result<Self, ConfigError> {
        let api = api.ok_or(ConfigError::MissingApi)?;
        let mut config = Self::new(ApiAddress::parse(api)?);
        config.mode = Mode::from_max_concurrency(max_concurrency)?;
        Ok(config)
    }
}

/// The Lambda environment does not describe a usable runtime.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum ConfigError {
    /// `AWS_LAMBDA_RUNTIME_API` is not set.
    #[error("AWS_LAMBDA_RUNTIME_API is not set")]
    MissingApi,
    /// `AWS_LAMBDA_RUNTIME_API` is unusable.
    #[error(transparent)]
    Address(#[from] crate::address::AddressError),
    /// `AWS_LAMBDA_MAX_CONCURRENCY` is unusable.
    #[error(transparent)]
    Mode(#[from] super::mode::ModeError),
}
