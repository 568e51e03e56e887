//! JSON lines appended to a file, written whole per batch and flushed.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;

use lambda_sansio::forward::ForwardRecord;

/// Appends each record as one line. The file is opened on first use and
/// again after a failure, so a file that appears later is written to.
pub(crate) struct FileSink {
    path: PathBuf,
    file: Option<File>,
    buffer: Vec<u8>,
}

impl FileSink {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self { path, file: None, buffer: Vec::new() }
    }
}

impl super::Sink for FileSink {
    fn send(&mut self, records: &[ForwardRecord]) -> Result<(), String> {
        self.buffer.clear();
        super::json_lines(records, &mut self.buffer);
        let written = match &mut self.file {
            Some(file) => file.write_all(&self.buffer).and_then(|()| file.flush()),
            None => OpenOptions::new().create(true).append(true).open(&self.path).and_then(|mut file| {
                file.write_all(&self.buffer)?;
                file.flush()?;
                self.file = Some(file);
                Ok(())
            }),
        };
        written.map_err(|e| {
            self.file = None;
            format!("could not append to {}: {e}", self.path.display())
        })
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}
