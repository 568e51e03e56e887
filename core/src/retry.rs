//! The transport-failure policy: bounded retries with exponential back-off.

use std::time::Duration;

/// How a machine reacts to a failed exchange.
///
/// After a transport error the machine waits (its `poll_timeout` says until
/// when) and then resends the same request; after
/// `max_retries` failed retries in a row it stops with a fatal error. A success
/// resets the count. No request is ever resent without a wait, so a dead
/// platform cannot make a driver spin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RetryPolicy {
    /// Retries after the first failure; 0 makes every transport error fatal.
    pub max_retries: u8,
    /// Wait before the first retry; doubled for each further one.
    pub initial_backoff: Duration,
    /// Upper bound of any wait.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    /// 3 retries, waiting 50 ms, 100 ms, 200 ms.
    fn default() -> Self {
        Self {
            max_retries: 3,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `attempt` (1-based), or `None` when the
    /// retries are used up.
    pub fn backoff(&self, attempt: u8) -> Option<Duration> {
        if attempt == 0 || attempt > self.max_retries {
            return None;
        }
        let factor = 1u32.checked_shl(u32::from(attempt) - 1).unwrap_or(u32::MAX);
        Some(self.initial_backoff.saturating_mul(factor).min(self.max_backoff))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_caps_and_ends() {
        let policy = RetryPolicy {
            max_retries: 40,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(35),
        };
        assert_eq!(policy.backoff(0), None);
        assert_eq!(policy.backoff(1), Some(Duration::from_millis(10)));
        assert_eq!(policy.backoff(2), Some(Duration::from_millis(20)));
        assert_eq!(policy.backoff(3), Some(Duration::from_millis(35)));
        assert_eq!(policy.backoff(40), Some(Duration::from_millis(35)));
        assert_eq!(policy.backoff(41), None);
        assert_eq!(RetryPolicy { max_retries: 0, ..policy }.backoff(1), None);
    }
}
