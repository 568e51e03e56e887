//! Where forwarded records go. A sink sends one batch at a time; an error
//! means the batch may not have arrived, and the forwarder sends it again
//! (delivery is at least once).

pub(crate) mod file;
pub(crate) mod http;
#[cfg(feature = "tls")]
mod https;
pub(crate) mod otlp;
mod otlp_json;
pub(crate) mod stdout;

use lambda_sansio::forward::ForwardRecord;

pub(crate) use otlp_json::{int as otlp_int, string as otlp_string};

use crate::config::{Settings, SinkChoice};

/// A destination for batches of records.
pub(crate) trait Sink: Send {
    /// Sends `records`, oldest first. `Err` is a sentence saying why.
    fn send(&mut self, records: &[ForwardRecord]) -> Result<(), String>;

    /// The sink, for messages: "standard output", a path, a URL.
    fn describe(&self) -> String;
}

/// The sink `settings` choose.
pub(crate) fn build(settings: &Settings) -> Result<Box<dyn Sink>, String> {
    let reach = http::Reach { timeout: settings.sink_timeout, ca_file: settings.ca_file.clone() };
    Ok(match &settings.sink {
        SinkChoice::Stdout => Box::new(stdout::StdoutSink::new()),
        SinkChoice::File(path) => Box::new(file::FileSink::new(path.clone())),
        SinkChoice::Http(url) => Box::new(http::HttpSink::new(url, &reach)?),
        SinkChoice::Otlp(otlp) => Box::new(otlp::OtlpSink::new(otlp, &reach)?),
    })
}

/// Writes `records` as JSON lines into `out`.
pub(crate) fn json_lines(records: &[ForwardRecord], out: &mut Vec<u8>) {
    for record in records {
        out.extend_from_slice(&record.body);
        out.push(b'\n');
    }
}
