//! Web mode's settings, from the Lambda Web Adapter's environment variables
//! (same names, same meanings, same defaults), so switching from the
//! adapter is replacing one binary.

use std::time::Duration;

use lambda_sansio::http::PathOptions;

/// How readiness is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Readiness {
    /// `GET path` answers with a status below `min_unhealthy`.
    Http { path: String, min_unhealthy: u16 },
    /// A TCP connection is accepted.
    Tcp,
}

/// What web mode runs and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WebConfig {
    /// The port the app listens on (`AWS_LWA_PORT`, else `PORT`, else 8080).
    pub port: u16,
    /// The port readiness is checked on (`AWS_LWA_READINESS_CHECK_PORT`).
    pub readiness_port: u16,
    /// `AWS_LWA_READINESS_CHECK_PROTOCOL` and `_PATH`,
    /// `AWS_LWA_READINESS_CHECK_MIN_UNHEALTHY_STATUS`.
    pub readiness: Readiness,
    /// Where events from no HTTP source are POSTed
    /// (`AWS_LWA_PASS_THROUGH_PATH`, default `/events`).
    pub pass_through_path: String,
    /// `AWS_LWA_INVOKE_MODE=response_stream`: answers are streamed.
    pub streaming: bool,
    /// `AWS_LWA_REMOVE_BASE_PATH`, and `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH`.
    pub paths: PathOptions,
    /// How long the app has to become ready at init (Lambda's init phase).
    pub ready_within: Duration,
}

/// Variables of the adapter this version reads; any other `AWS_LWA_*` gets
/// a warning at init rather than being ignored in silence.
pub(crate) const SUPPORTED: &[&str] = &[
    "AWS_LWA_PORT",
    "AWS_LWA_READINESS_CHECK_PORT",
    "AWS_LWA_READINESS_CHECK_PATH",
    "AWS_LWA_READINESS_CHECK_PROTOCOL",
    "AWS_LWA_READINESS_CHECK_MIN_UNHEALTHY_STATUS",
    "AWS_LWA_PASS_THROUGH_PATH",
    "AWS_LWA_INVOKE_MODE",
    "AWS_LWA_REMOVE_BASE_PATH",
];

impl WebConfig {
    /// Reads the settings through `lookup` (`std::env::var`); an error is a
    /// sentence naming the variable, for the init error.
    pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let set =
            |name: &str| lookup(name).map(|value| value.trim().to_owned()).filter(|value| !value.is_empty());
        let port = match set("AWS_LWA_PORT").or_else(|| set("PORT")) {
            Some(text) => parse_port("AWS_LWA_PORT", &text)?,
            None => 8080,
        };
        let readiness_port = match set("AWS_LWA_READINESS_CHECK_PORT") {
            Some(text) => parse_port("AWS_LWA_READINESS_CHECK_PORT", &text)?,
            None => port,
        };
        let readiness = match set("AWS_LWA_READINESS_CHECK_PROTOCOL")
            .map(|p| p.to_ascii_lowercase())
            .as_deref()
        {
            None | Some("http") => {
                let path = set("AWS_LWA_READINESS_CHECK_PATH").unwrap_or_else(|| "/".to_owned());
                let min_unhealthy = match set("AWS_LWA_READINESS_CHECK_MIN_UNHEALTHY_STATUS") {
                    Some(text) => {
                        text.parse().ok().filter(|status| (100..=599).contains(status)).ok_or_else(|| {
                            format!(
                                "AWS_LWA_READINESS_CHECK_MIN_UNHEALTHY_STATUS={text:?} is not an HTTP status"
                            )
                        })?
                    }
                    None => 500,
                };
                Readiness::Http { path: absolute(path), min_unhealthy }
            }
            Some("tcp") => Readiness::Tcp,
            Some(other) => {
                return Err(format!("AWS_LWA_READINESS_CHECK_PROTOCOL={other:?} is not http or tcp"));
            }
        };
        let streaming = match set("AWS_LWA_INVOKE_MODE").map(|m| m.to_ascii_lowercase()).as_deref() {
            None | Some("buffered") => false,
            Some("response_stream") => true,
            Some(other) => {
                return Err(format!("AWS_LWA_INVOKE_MODE={other:?} is not buffered or response_stream"))
            }
        };
        Ok(Self {
            port,
            readiness_port,
            readiness,
            pass_through_path: absolute(
                set("AWS_LWA_PASS_THROUGH_PATH").unwrap_or_else(|| "/events".to_owned()),
            ),
            streaming,
            paths: PathOptions::from_lookup(&lookup),
            ready_within: Duration::from_secs(10),
        })
    }

    /// The warnings for `AWS_LWA_*` variables this version does not read.
    pub(crate) fn unsupported(names: impl Iterator<Item = String>) -> Vec<String> {
        names
            .filter(|name| name.starts_with("AWS_LWA_") && !SUPPORTED.contains(&name.as_str()))
            .map(|name| format!("{name} is not supported by this bootstrap and has no effect"))
            .collect()
    }
}

fn parse_port(name: &str, text: &str) -> Result<u16, String> {
    text.parse().ok().filter(|port| *port > 0).ok_or_else(|| format!("{name}={text:?} is not a port number"))
}

fn absolute(path: String) -> String {
    if path.starts_with('/') {
        path
    } else {
        format!("/{path}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<WebConfig, String> {
        let vars: Vec<(String, String)> =
            vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        WebConfig::from_lookup(|name| {
            vars.iter().find(|(key, _)| key == name).map(|(_, value)| value.clone())
        })
    }

    #[test]
    fn the_adapters_defaults_apply() {
        let defaults = config(&[]).unwrap();
        assert_eq!((defaults.port, defaults.readiness_port), (8080, 8080));
        assert_eq!(defaults.readiness, Readiness::Http { path: "/".into(), min_unhealthy: 500 });
        assert_eq!(defaults.pass_through_path, "/events");
        assert!(!defaults.streaming);
        assert_eq!(config(&[("PORT", "3000")]).unwrap().port, 3000);
        assert_eq!(config(&[("PORT", "3000"), ("AWS_LWA_PORT", "9000")]).unwrap().port, 9000);
    }

    #[test]
    fn each_variable_means_what_it_means_to_the_adapter() {
        let set = config(&[
            ("AWS_LWA_PORT", "5000"),
            ("AWS_LWA_READINESS_CHECK_PORT", "5001"),
            ("AWS_LWA_READINESS_CHECK_PATH", "health"),
            ("AWS_LWA_READINESS_CHECK_MIN_UNHEALTHY_STATUS", "400"),
            ("AWS_LWA_PASS_THROUGH_PATH", "/lambda-events"),
            ("AWS_LWA_INVOKE_MODE", "RESPONSE_STREAM"),
            ("AWS_LWA_REMOVE_BASE_PATH", "/api"),
        ])
        .unwrap();
        assert_eq!((set.port, set.readiness_port), (5000, 5001));
        assert_eq!(set.readiness, Readiness::Http { path: "/health".into(), min_unhealthy: 400 });
        assert_eq!(set.pass_through_path, "/lambda-events");
        assert!(set.streaming);
        assert_eq!(set.paths.remove_base_path.as_deref(), Some("/api"));
        assert_eq!(config(&[("AWS_LWA_READINESS_CHECK_PROTOCOL", "tcp")]).unwrap().readiness, Readiness::Tcp);
    }

    #[test]
    fn a_wrong_value_is_an_init_error_naming_the_variable() {
        assert_eq!(
            config(&[("AWS_LWA_PORT", "http")]).unwrap_err(),
            "AWS_LWA_PORT=\"http\" is not a port number"
        );
        assert!(config(&[("AWS_LWA_INVOKE_MODE", "fast")]).unwrap_err().starts_with("AWS_LWA_INVOKE_MODE="));
        assert!(config(&[("AWS_LWA_READINESS_CHECK_PROTOCOL", "udp")]).is_err());
        let warnings = WebConfig::unsupported(
            ["AWS_LWA_ENABLE_COMPRESSION".to_owned(), "AWS_LWA_PORT".to_owned()].into_iter(),
        );
        assert_eq!(
            warnings,
            ["AWS_LWA_ENABLE_COMPRESSION is not supported by this bootstrap and has no effect"]
        );
    }
}
