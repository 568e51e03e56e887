//! Logging the way Lambda expects (feature `tracing`): a `tracing`
//! subscriber that honours Lambda's advanced logging controls.
//!
//! - `AWS_LAMBDA_LOG_FORMAT`: `JSON` writes one JSON object per line with
//!   `timestamp`, `level`, `message`, then the fields of the spans the event
//!   happened in (outermost first) and of the event; anything else (`Text`,
//!   unset) writes `TIMESTAMP LEVEL requestId=… message key=value …`.
//! - `AWS_LAMBDA_LOG_LEVEL`: `TRACE`, `DEBUG`, `INFO` (the default), `WARN`,
//!   `ERROR` or `FATAL` (treated as `ERROR`), in any case.
//!
//! The transports open a span named `invocation` with a `requestId` field
//! around each handler call, so every line written during an invocation
//! carries its request id, also when invocations overlap (Managed
//! Instances): the id comes from the span the line was written in, not from
//! a global. Lines go to stderr, each written whole.
//!
//! This module is the one place in the crate that does I/O (it writes
//! lines); it exists only with the feature.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::Arc;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Record};
use tracing::{Event, Id, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// How lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// `TIMESTAMP LEVEL requestId=… message key=value`.
    Text,
    /// One JSON object per line.
    Json,
}

/// What Lambda's logging controls ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogConfig {
    /// The line format.
    pub format: LogFormat,
    /// The most verbose level written.
    pub level: Level,
}

impl LogConfig {
    /// From the values of `AWS_LAMBDA_LOG_FORMAT` and `AWS_LAMBDA_LOG_LEVEL`.
    pub fn from_env_values(format: Option<&str>, level: Option<&str>) -> Self {
        let format = match format.map(str::trim) {
            Some(f) if f.eq_ignore_ascii_case("json") => LogFormat::Json,
            _ => LogFormat::Text,
        };
        let level = match level.map(|l| l.trim().to_ascii_uppercase()).as_deref() {
            Some("TRACE") => Level::TRACE,
            Some("DEBUG") => Level::DEBUG,
            Some("WARN") => Level::WARN,
            Some("ERROR" | "FATAL") => Level::ERROR,
            _ => Level::INFO,
        };
        Self { format, level }
    }

    /// From this process's environment.
    pub fn from_env() -> Self {
        let var = |name| std::env::var(name).ok();
        Self::from_env_values(var("AWS_LAMBDA_LOG_FORMAT").as_deref(), var("AWS_LAMBDA_LOG_LEVEL").as_deref())
    }
}

/// Installs the Lambda subscriber for the whole process, configured from the
/// environment. Fails if a global subscriber is already set.
pub fn init_default_subscriber() -> Result<(), tracing::subscriber::SetGlobalDefaultError> {
    let config = LogConfig::from_env();
    let write: Writer = Arc::new(|line: &[u8]| {
        // A line that cannot be written has nowhere else to go.
        let _ = std::io::stderr().lock().write_all(line);
    });
    tracing::subscriber::set_global_default(subscriber(config, write))
}

/// The span the transports open around each handler call: `invocation`,
/// with the invocation's `requestId`.
pub fn invocation_span(request_id: &crate::RequestId) -> tracing::Span {
    tracing::info_span!("invocation", requestId = request_id.as_str())
}

/// Where finished lines go (each call is one whole line, newline included).
pub type Writer = Arc<dyn Fn(&[u8]) + Send + Sync>;

/// The Lambda subscriber, writing to `write`.
pub fn subscriber(config: LogConfig, write: Writer) -> impl Subscriber + Send + Sync {
    // Spans pass whatever their level: a WARN line still needs the request
    // id of the INFO span it was written in.
    let level = config.level;
    let filter = tracing_subscriber::filter::filter_fn(move |meta| meta.is_span() || *meta.level() <= level);
    tracing_subscriber::registry().with(LambdaLayer { format: config.format, write }.with_filter(filter))
}

/// The fields recorded on a span, kept in its extensions.
struct SpanFields(Vec<(String, serde_json::Value)>);

/// Collects fields as JSON values; `message` separately.
#[derive(Default)]
struct Fields {
    message: Option<String>,
    fields: Vec<(String, serde_json::Value)>,
}

impl Fields {
    fn put(&mut self, field: &Field, value: serde_json::Value) {
        if field.name() == "message" {
            self.message = Some(match value {
                serde_json::Value::String(text) => text,
                other => other.to_string(),
            });
        } else {
            self.fields.retain(|(name, _)| name != field.name());
            self.fields.push((field.name().to_owned(), value));
        }
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put(field, format!("{value:?}").into());
    }
}

struct LambdaLayer {
    format: LogFormat,
    write: Writer,
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for LambdaLayer {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(fields.fields));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(SpanFields(existing)) = extensions.get_mut::<SpanFields>() {
            let mut fields = Fields { message: None, fields: std::mem::take(existing) };
            values.record(&mut fields);
            *existing = fields.fields;
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut context = Vec::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(SpanFields(fields)) = span.extensions().get::<SpanFields>() {
                    context.extend(fields.iter().cloned());
                }
            }
        }
        let mut own = Fields::default();
        event.record(&mut own);
        let epoch_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let line = format_line(
            self.format,
            &crate::platform::telemetry::rfc3339(epoch_ms),
            event.metadata().level(),
            own.message.as_deref().unwrap_or_default(),
            context.into_iter().chain(own.fields),
        );
        (self.write)(line.as_bytes());
    }
}

/// One log line, newline included. Later fields with a name already used
/// (`timestamp`, `level`, `message`, or an outer span's) are left out.
fn format_line(
    format: LogFormat,
    timestamp: &str,
    level: &Level,
    message: &str,
    fields: impl Iterator<Item = (String, serde_json::Value)>,
) -> String {
    let mut seen: Vec<String> = vec!["timestamp".into(), "level".into(), "message".into()];
    let mut line = String::new();
    match format {
        LogFormat::Json => {
            let quote = |text: &str| serde_json::Value::from(text).to_string();
            let _ = write!(
                line,
                "{{\"timestamp\":{},\"level\":{},\"message\":{}",
                quote(timestamp),
                quote(level.as_str()),
                quote(message)
            );
            for (name, value) in fields {
                if !seen.contains(&name) {
                    let _ = write!(line, ",{}:{value}", quote(&name));
                    seen.push(name);
                }
            }
            line.push('}');
        }
        LogFormat::Text => {
            let _ = write!(line, "{timestamp} {:<5}", level.as_str());
            let mut rest = String::new();
            for (name, value) in fields {
                if seen.contains(&name) {
                    continue;
                }
                let shown = match &value {
                    serde_json::Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                if name == "requestId" {
                    let _ = write!(line, " requestId={shown}");
                } else {
                    let _ = write!(rest, " {name}={shown}");
                }
                seen.push(name);
            }
            let _ = write!(line, " {message}{rest}");
        }
    }
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn capture(config: LogConfig) -> (impl Subscriber + Send + Sync, Arc<Mutex<Vec<String>>>) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        let write: Writer = Arc::new(move |line: &[u8]| {
            sink.lock().unwrap().push(String::from_utf8_lossy(line).into_owned());
        });
        (subscriber(config, write), lines)
    }

    #[test]
    fn the_controls_are_read_as_lambda_documents_them() {
        let config = LogConfig::from_env_values(Some("JSON"), Some("debug"));
        assert_eq!((config.format, config.level), (LogFormat::Json, Level::DEBUG));
        let config = LogConfig::from_env_values(Some("Text"), Some("FATAL"));
        assert_eq!((config.format, config.level), (LogFormat::Text, Level::ERROR));
        let config = LogConfig::from_env_values(None, None);
        assert_eq!((config.format, config.level), (LogFormat::Text, Level::INFO));
    }

    #[test]
    fn a_json_line_carries_the_request_id_of_its_own_invocation() {
        let (subscriber, lines) = capture(LogConfig { format: LogFormat::Json, level: Level::INFO });
        tracing::subscriber::with_default(subscriber, || {
            let outer = tracing::info_span!("invocation", requestId = "r-1");
            let _entered = outer.enter();
            tracing::info!(items = 3, ok = true, "processed \"batch\"");
            tracing::debug!("filtered out at INFO");
        });
        let lines = lines.lock().unwrap();
        assert_eq!(lines.len(), 1, "{lines:?}");
        let line: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["message"], "processed \"batch\"");
        assert_eq!(line["requestId"], "r-1");
        assert_eq!((line["items"].as_u64(), line["ok"].as_bool()), (Some(3), Some(true)));
        assert!(line["timestamp"].as_str().unwrap().ends_with('Z'));
        assert!(lines[0].starts_with("{\"timestamp\":"), "keys in Lambda's order: {}", lines[0]);
    }

    #[test]
    fn overlapping_invocations_on_threads_each_log_their_own_id() {
        let (subscriber, lines) = capture(LogConfig { format: LogFormat::Json, level: Level::INFO });
        let dispatch = tracing::Dispatch::new(subscriber);
        let barrier = Arc::new(std::sync::Barrier::new(2));
        let threads: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|id| {
                let (dispatch, barrier) = (dispatch.clone(), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    tracing::dispatcher::with_default(&dispatch, || {
                        let span = tracing::info_span!("invocation", requestId = id);
                        let _entered = span.enter();
                        barrier.wait();
                        tracing::info!(mine = id, "working");
                        barrier.wait();
                        tracing::info!(mine = id, "done");
                    })
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let lines = lines.lock().unwrap();
        assert_eq!(lines.len(), 4);
        for line in lines.iter() {
            let line: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(line["requestId"], line["mine"], "{line}");
        }
    }

    #[test]
    fn a_text_line_reads_left_to_right() {
        let (subscriber, lines) = capture(LogConfig { format: LogFormat::Text, level: Level::WARN });
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("invocation", requestId = "r-9");
            let _entered = span.enter();
            tracing::info!("not at WARN");
            tracing::warn!(retry = 2, "the next call failed");
        });
        let lines = lines.lock().unwrap();
        assert_eq!(lines.len(), 1);
        let (_, rest) = lines[0].split_once(' ').unwrap();
        assert_eq!(rest, "WARN  requestId=r-9 the next call failed retry=2\n");
    }
}
