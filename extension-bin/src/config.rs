//! The extension's settings, from its environment. Every problem is one
//! sentence naming the variable.

use std::path::PathBuf;
use std::time::Duration;

use lambda_sansio::forward::ForwarderConfig;
use lambda_sansio::telemetry::RecordCategory;

/// The default port of the sidecar endpoint: neither AppConfig's 2772 nor
/// the Parameters and Secrets extension's 2773.
pub(crate) const DEFAULT_SIDECAR_PORT: u16 = 2775;

/// Where records go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SinkChoice {
    /// JSON lines on standard output (Lambda sends them to the function's
    /// log group).
    Stdout,
    /// JSON lines appended to a file.
    File(PathBuf),
    /// JSON arrays POSTed to an endpoint.
    Http(String),
    /// OTLP/HTTP with the JSON encoding.
    Otlp(OtlpSettings),
}

/// The `OTEL_EXPORTER_OTLP_*` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OtlpSettings {
    /// Where log records go (`…/v1/logs`).
    pub(crate) logs_url: String,
    /// Where spans go (`…/v1/traces`).
    pub(crate) traces_url: String,
    /// Extra headers, e.g. an API key.
    pub(crate) headers: Vec<(String, String)>,
    /// `OTEL_SERVICE_NAME`, else the function's name.
    pub(crate) service_name: String,
    /// `AWS_LAMBDA_FUNCTION_NAME`: the invocation spans' name.
    pub(crate) function_name: String,
    /// The resource attributes (OpenTelemetry semantic conventions for
    /// FaaS and cloud), as OTLP `AnyValue`s.
    pub(crate) resource: Vec<(String, serde_json::Value)>,
}

/// Everything the extension is configured with.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) sink: SinkChoice,
    pub(crate) categories: Vec<RecordCategory>,
    /// `None`: no sidecar endpoint.
    pub(crate) sidecar_port: Option<u16>,
    pub(crate) telemetry_port: u16,
    pub(crate) forwarder: ForwarderConfig,
    pub(crate) sink_timeout: Duration,
    /// A PEM file of CAs to trust besides the system's, for `https://`
    /// sinks (`OTEL_EXPORTER_OTLP_CERTIFICATE`, `LAMBDA_SANSIO_SINK_CA_FILE`).
    pub(crate) ca_file: Option<PathBuf>,
}

/// Reads the settings through `var` (the environment, in the binary).
pub(crate) fn settings(var: impl Fn(&str) -> Option<String>) -> Result<Settings, String> {
    let sink = sink(&var)?;
    let categories = categories(&var, &sink)?;
    let sidecar_port = match var("LAMBDA_SANSIO_SIDECAR_PORT").as_deref().map(str::trim) {
        None | Some("") => Some(DEFAULT_SIDECAR_PORT),
        Some("off") => None,
        Some(text) => Some(port(text, "LAMBDA_SANSIO_SIDECAR_PORT")?).filter(|p| *p != 0),
    };
    let telemetry_port = match var("LAMBDA_SANSIO_TELEMETRY_PORT") {
        Some(text) if !text.trim().is_empty() => port(text.trim(), "LAMBDA_SANSIO_TELEMETRY_PORT")?,
        _ => 0,
    };
    let defaults = ForwarderConfig::default();
    let max_records = number(&var, "LAMBDA_SANSIO_MAX_QUEUED", defaults.max_records as u64, 1..=1_000_000)?;
    let budget =
        number(&var, "LAMBDA_SANSIO_FLUSH_BUDGET_MS", defaults.flush_budget.as_millis() as u64, 0..=60_000)?;
    let timeout = number(&var, "LAMBDA_SANSIO_SINK_TIMEOUT_MS", 2_000, 10..=60_000)?;
    let hold_invocations = match var("LAMBDA_SANSIO_HOLD").map(|h| h.trim().to_ascii_lowercase()).as_deref() {
        None | Some("" | "on") => true,
        Some("off") => false,
        Some(other) => return Err(format!("LAMBDA_SANSIO_HOLD must be on or off, not {other:?}")),
    };
    let awaits_platform_records = categories.contains(&RecordCategory::Platform);
    let ca_file = match var("LAMBDA_SANSIO_SINK_CA_FILE").or_else(|| var("OTEL_EXPORTER_OTLP_CERTIFICATE")) {
        Some(path) if !path.trim().is_empty() => {
            let path = PathBuf::from(path.trim());
            if !path.is_file() {
                return Err(format!("the CA file {} does not exist (LAMBDA_SANSIO_SINK_CA_FILE or OTEL_EXPORTER_OTLP_CERTIFICATE)", path.display()));
            }
            Some(path)
        }
        _ => None,
    };
    Ok(Settings {
        sink,
        categories,
        sidecar_port,
        telemetry_port,
        forwarder: ForwarderConfig {
            max_records: max_records as usize,
            flush_budget: Duration::from_millis(budget),
            awaits_platform_records,
            hold_invocations,
            ..defaults
        },
        sink_timeout: Duration::from_millis(timeout),
        ca_file,
    })
}

fn port(text: &str, name: &str) -> Result<u16, String> {
    text.parse().map_err(|_| format!("{name} must be a port number from 0 to 65535 or \"off\", not {text:?}"))
}

fn number(
    var: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, String> {
    match var(name) {
        Some(text) if !text.trim().is_empty() => {
            text.trim().parse().ok().filter(|n| range.contains(n)).ok_or_else(|| {
                format!("{name} must be a number from {} to {}, not {text:?}", range.start(), range.end())
            })
        }
        _ => Ok(default),
    }
}

fn sink(var: &impl Fn(&str) -> Option<String>) -> Result<SinkChoice, String> {
    let otel = var("OTEL_EXPORTER_OTLP_ENDPOINT").or_else(|| var("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"));
    let chosen = var("LAMBDA_SANSIO_SINK").map(|s| s.trim().to_ascii_lowercase()).filter(|s| !s.is_empty());
    // With OpenTelemetry configured and no sink named, OTLP is the guess.
    let chosen = chosen.unwrap_or_else(|| if otel.is_some() { "otlp".into() } else { "stdout".into() });
    match chosen.as_str() {
        "stdout" => Ok(SinkChoice::Stdout),
        "file" => match var("LAMBDA_SANSIO_SINK_FILE").filter(|p| !p.trim().is_empty()) {
            Some(path) => Ok(SinkChoice::File(path.into())),
            None => {
                Err("LAMBDA_SANSIO_SINK=file needs LAMBDA_SANSIO_SINK_FILE, the file to append to".into())
            }
        },
        "http" => match var("LAMBDA_SANSIO_SINK_URL").filter(|u| !u.trim().is_empty()) {
            Some(url) => {
                super::sink::http::Endpoint::parse(url.trim())?;
                Ok(SinkChoice::Http(url.trim().to_owned()))
            }
            None => {
                Err("LAMBDA_SANSIO_SINK=http needs LAMBDA_SANSIO_SINK_URL, the endpoint to POST to".into())
            }
        },
        "otlp" => otlp(var).map(SinkChoice::Otlp),
        other => Err(format!("LAMBDA_SANSIO_SINK must be stdout, file, http or otlp, not {other:?}")),
    }
}

fn otlp(var: &impl Fn(&str) -> Option<String>) -> Result<OtlpSettings, String> {
    let base = var("OTEL_EXPORTER_OTLP_ENDPOINT").map(|b| b.trim().trim_end_matches('/').to_owned());
    let signal = |specific: &str, path: &str| -> Result<String, String> {
        let url = match (var(specific).filter(|u| !u.trim().is_empty()), &base) {
            (Some(url), _) => url.trim().to_owned(),
            (None, Some(base)) if !base.is_empty() => format!("{base}{path}"),
            _ => {
                return Err(format!(
                "the otlp sink needs OTEL_EXPORTER_OTLP_ENDPOINT (or {specific}), e.g. http://127.0.0.1:4318"
            ))
            }
        };
        super::sink::http::Endpoint::parse(&url).map(|_| url)
    };
    let headers = match var("OTEL_EXPORTER_OTLP_HEADERS") {
        Some(text) => otlp_headers(&text)?,
        None => Vec::new(),
    };
    let function_name = var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|| "function".into());
    let service_name = var("OTEL_SERVICE_NAME").unwrap_or_else(|| function_name.clone());
    let text = super::sink::otlp_string;
    let mut resource = vec![
        ("service.name".to_owned(), text(&service_name)),
        ("cloud.provider".to_owned(), text("aws")),
        ("cloud.platform".to_owned(), text("aws_lambda")),
        ("faas.name".to_owned(), text(&function_name)),
    ];
    let optional = [
        ("cloud.region", "AWS_REGION"),
        ("faas.version", "AWS_LAMBDA_FUNCTION_VERSION"),
        ("faas.instance", "AWS_LAMBDA_LOG_STREAM_NAME"),
    ];
    for (attribute, variable) in optional {
        if let Some(value) = var(variable).filter(|v| !v.is_empty()) {
            resource.push((attribute.to_owned(), text(&value)));
        }
    }
    if let Some(mb) = var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").and_then(|m| m.trim().parse::<i64>().ok()) {
        resource.push(("faas.max_memory".to_owned(), super::sink::otlp_int(mb * 1024 * 1024)));
    }
    Ok(OtlpSettings {
        logs_url: signal("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "/v1/logs")?,
        traces_url: signal("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "/v1/traces")?,
        headers,
        service_name,
        function_name,
        resource,
    })
}

/// `OTEL_EXPORTER_OTLP_HEADERS`: `key=value` pairs separated by commas,
/// values percent-encoded.
pub(crate) fn otlp_headers(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut headers = Vec::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').ok_or_else(|| {
            format!("OTEL_EXPORTER_OTLP_HEADERS holds key=value pairs; {pair:?} has no '='")
        })?;
        let (key, value) = (key.trim(), percent_decode(value.trim()));
        let valid = http::HeaderName::from_bytes(key.as_bytes()).is_ok()
            && http::HeaderValue::from_str(&value).is_ok();
        if !valid {
            return Err(format!("OTEL_EXPORTER_OTLP_HEADERS has a header that is not valid HTTP: {key:?}"));
        }
        headers.push((key.to_owned(), value));
    }
    Ok(headers)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The record categories to subscribe to: `LAMBDA_SANSIO_TYPES`, else
/// platform records only for stdout (so the function's logs are not
/// written twice) and platform and function records for the others.
/// `extension` is refused with stdout: the forwarder's own output is an
/// `extension` record, and forwarding it to stdout would loop.
fn categories(
    var: &impl Fn(&str) -> Option<String>,
    sink: &SinkChoice,
) -> Result<Vec<RecordCategory>, String> {
    let Some(text) = var("LAMBDA_SANSIO_TYPES").filter(|t| !t.trim().is_empty()) else {
        return Ok(match sink {
            SinkChoice::Stdout => vec![RecordCategory::Platform],
            _ => vec![RecordCategory::Platform, RecordCategory::Function],
        });
    };
    let mut categories = Vec::new();
    for name in text.split(',').map(|n| n.trim().to_ascii_lowercase()).filter(|n| !n.is_empty()) {
        let category = match name.as_str() {
            "platform" => RecordCategory::Platform,
            "function" => RecordCategory::Function,
            "extension" if *sink == SinkChoice::Stdout => {
                return Err("LAMBDA_SANSIO_TYPES may not hold extension with the stdout sink: \
                            the forwarder's own output would be forwarded back to itself"
                    .into())
            }
            "extension" => RecordCategory::Extension,
            other => {
                return Err(format!(
                "LAMBDA_SANSIO_TYPES holds platform, function and extension, comma-separated; not {other:?}"
            ))
            }
        };
        if !categories.contains(&category) {
            categories.push(category);
        }
    }
    Ok(categories)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> Result<Settings, String> {
        let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        settings(move |name| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    #[test]
    fn the_defaults_are_stdout_platform_records_and_the_sidecar_on_its_own_port() {
        let s = with(&[]).unwrap();
        assert_eq!(s.sink, SinkChoice::Stdout);
        assert_eq!(s.categories, [RecordCategory::Platform]);
        assert_eq!(s.sidecar_port, Some(DEFAULT_SIDECAR_PORT));
        assert!(s.forwarder.awaits_platform_records);
        assert!(s.forwarder.hold_invocations);
        assert!(!with(&[("LAMBDA_SANSIO_HOLD", "off")]).unwrap().forwarder.hold_invocations);
    }

    #[test]
    fn otlp_is_chosen_by_its_endpoint_and_signals_get_their_paths() {
        let s = with(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318/"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=a%3Db, x-team = core"),
            ("AWS_LAMBDA_FUNCTION_NAME", "orders"),
        ])
        .unwrap();
        let SinkChoice::Otlp(otlp) = s.sink else { panic!("{:?}", s.sink) };
        assert_eq!(otlp.logs_url, "http://127.0.0.1:4318/v1/logs");
        assert_eq!(otlp.traces_url, "http://127.0.0.1:4318/v1/traces");
        assert_eq!(otlp.headers, [("api-key".into(), "a=b".into()), ("x-team".into(), "core".into())]);
        assert_eq!(otlp.service_name, "orders");
        assert_eq!(s.categories, [RecordCategory::Platform, RecordCategory::Function]);
    }

    #[test]
    fn mistakes_are_sentences_naming_the_variable() {
        let cases = [
            (vec![("LAMBDA_SANSIO_SINK", "kafka")], "LAMBDA_SANSIO_SINK"),
            (vec![("LAMBDA_SANSIO_SINK", "file")], "LAMBDA_SANSIO_SINK_FILE"),
            (vec![("LAMBDA_SANSIO_SINK", "http")], "LAMBDA_SANSIO_SINK_URL"),
            (vec![("LAMBDA_SANSIO_SINK", "http"), ("LAMBDA_SANSIO_SINK_URL", "ftp://x")], "http://"),
            (vec![("LAMBDA_SANSIO_SINK", "otlp")], "OTEL_EXPORTER_OTLP_ENDPOINT"),
            (vec![("LAMBDA_SANSIO_TYPES", "platform,extension")], "loop"),
            (vec![("LAMBDA_SANSIO_TYPES", "metrics")], "LAMBDA_SANSIO_TYPES"),
            (vec![("LAMBDA_SANSIO_SIDECAR_PORT", "99999")], "LAMBDA_SANSIO_SIDECAR_PORT"),
            (vec![("LAMBDA_SANSIO_MAX_QUEUED", "0")], "LAMBDA_SANSIO_MAX_QUEUED"),
            (vec![("LAMBDA_SANSIO_HOLD", "maybe")], "LAMBDA_SANSIO_HOLD"),
            (
                vec![("OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:1"), ("OTEL_EXPORTER_OTLP_HEADERS", "nokey")],
                "=",
            ),
        ];
        for (pairs, named) in cases {
            let error = with(&pairs).unwrap_err();
            assert!(error.contains(named) || error.contains("back to itself"), "{error}");
            assert!(!error.contains("Err(") && !error.contains("{ "), "a sentence: {error}");
        }
    }

    #[test]
    fn the_sidecar_can_be_turned_off_or_moved_and_types_chosen() {
        let off = with(&[("LAMBDA_SANSIO_SIDECAR_PORT", "off")]).unwrap();
        assert_eq!(off.sidecar_port, None);
        let moved = with(&[("LAMBDA_SANSIO_SIDECAR_PORT", "2772")]).unwrap();
        assert_eq!(moved.sidecar_port, Some(2772));
        let file = with(&[
            ("LAMBDA_SANSIO_SINK", "file"),
            ("LAMBDA_SANSIO_SINK_FILE", "/tmp/x.jsonl"),
            ("LAMBDA_SANSIO_TYPES", "function"),
        ])
        .unwrap();
        assert_eq!(file.categories, [RecordCategory::Function]);
        assert!(!file.forwarder.awaits_platform_records, "without platform records no runtimeDone comes");
    }
}
