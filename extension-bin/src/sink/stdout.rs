//! JSON lines on standard output: Lambda sends them to the function's log
//! group (as `extension` records, which is why that category is never
//! forwarded to this sink).

use std::io::Write;

use lambda_sansio::forward::ForwardRecord;

/// Writes each record as one line.
pub(crate) struct StdoutSink {
    line: Vec<u8>,
}

impl StdoutSink {
    pub(crate) fn new() -> Self {
        Self { line: Vec::new() }
    }
}

impl super::Sink for StdoutSink {
    fn send(&mut self, records: &[ForwardRecord]) -> Result<(), String> {
        self.line.clear();
        super::json_lines(records, &mut self.line);
        let mut out = std::io::stdout().lock();
        out.write_all(&self.line).and_then(|()| out.flush()).map_err(|e| format!("could not write: {e}"))
    }

    fn describe(&self) -> String {
        "standard output".into()
    }
}
