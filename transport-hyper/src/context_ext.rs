//! Clock-reading conveniences for the handler's [`Context`] (core reads no
//! clock; drivers may).

use std::time::{Duration, SystemTime};

use lambda_sansio::context::Context;

/// What a handler usually wants to know about its deadline.
pub trait ContextExt {
    /// Time left before the invocation's deadline, now (zero when past);
    /// `None` when the platform sent no deadline.
    fn remaining(&self) -> Option<Duration>;
}

impl ContextExt for Context {
    fn remaining(&self) -> Option<Duration> {
        self.remaining_at(SystemTime::now())
    }
}
