//! What the function's processes wrote, line by line, kept (the newest
//! [`KEPT_LINES`]) for whoever runs the emulator: a test asserting on a
//! log line, a tool showing them.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

/// Lines kept; older ones are forgotten.
pub const KEPT_LINES: usize = 10_000;

/// One line of output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputLine {
    /// `bootstrap`'s file name or the extension's.
    pub process: String,
    /// Written to standard error (else standard output).
    pub stderr: bool,
    /// The line, without its end.
    pub line: String,
}

/// The shared, bounded log.
#[derive(Clone, Default)]
pub(crate) struct OutputLog(Arc<Mutex<VecDeque<OutputLine>>>);

impl OutputLog {
    pub(crate) fn push(&self, line: OutputLine) {
        let mut lines = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if lines.len() == KEPT_LINES {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    pub(crate) fn snapshot(&self) -> Vec<OutputLine> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).iter().cloned().collect()
    }
}
