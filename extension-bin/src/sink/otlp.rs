//! OTLP/HTTP with the JSON encoding: log records to the logs endpoint and
//! invocation spans to the traces endpoint.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use lambda_sansio::forward::ForwardRecord;

use super::http::{Poster, Reach};
use super::otlp_json::{self, Resource};
use crate::config::OtlpSettings;

/// Exports each batch as logs (every record) and spans (each report). A
/// batch fails if either export fails, and is then sent again whole.
pub(crate) struct OtlpSink {
    logs: Poster,
    traces: Poster,
    resource: Resource,
}

impl OtlpSink {
    pub(crate) fn new(settings: &OtlpSettings, reach: &Reach) -> Result<Self, String> {
        Ok(Self {
            logs: Poster::new(&settings.logs_url, settings.headers.clone(), reach)?,
            traces: Poster::new(&settings.traces_url, settings.headers.clone(), reach)?,
            resource: Resource {
                attributes: settings.resource.clone(),
                function_name: settings.function_name.clone(),
            },
        })
    }
}

fn now_nanos() -> u64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
}

impl super::Sink for OtlpSink {
    fn send(&mut self, records: &[ForwardRecord]) -> Result<(), String> {
        let logs = otlp_json::logs(records, &self.resource, now_nanos());
        self.logs.post_json(Bytes::from(logs.to_string()))?;
        if let Some(spans) = otlp_json::spans(records, &self.resource) {
            self.traces.post_json(Bytes::from(spans.to_string()))?;
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!("{} and {}", self.logs.url(), self.traces.url())
    }
}
