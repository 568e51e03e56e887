//! Web mode: runs an unmodified web app (any language, any framework) on
//! Lambda, as the Lambda Web Adapter does and with its settings. The app
//! starts at init and must become ready; each HTTP event (API Gateway, ALB,
//! Function URL) becomes an HTTP request to it over a kept-alive local
//! connection and its answer the event's answer; other events are POSTed as
//! they are to a pass-through path. Event conversion is core's
//! (`lambda_sansio::http`); this module moves bytes and supervises the app.

mod app;
mod config;
mod forward;
mod stream;

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use http::HeaderValue;
use lambda_sansio_blocking::http1::Connection;

pub(crate) use config::WebConfig;

/// A running web app and the connections to it.
pub(crate) struct Web {
    app: app::App,
    config: WebConfig,
    /// `127.0.0.1:PORT`.
    authority: String,
    /// The `Host` header for requests whose event had none.
    host: HeaderValue,
    /// Idle kept-alive connections (one per invocation in flight at most).
    pool: Mutex<Vec<Connection>>,
}

impl Web {
    /// Starts the app (`_HANDLER`) and waits until it is ready; an error is
    /// the cause of a failed init.
    pub(crate) fn start(command: &str, task_root: &Path, config: WebConfig) -> Result<Self, String> {
        let authority = format!("127.0.0.1:{}", config.port);
        let host = HeaderValue::try_from(authority.as_str()).map_err(|e| e.to_string())?;
        let app = app::App::start(command, task_root, config.clone())?;
        Ok(Self { app, config, authority, host, pool: Mutex::new(Vec::new()) })
    }

    /// At shutdown: SIGTERM to the app, `grace` to exit, then SIGKILL.
    pub(crate) fn stop(&self, grace: Duration) {
        self.app.stop(grace);
    }
}

/// An answer's headers that describe it rather than the connection it came
/// on (`Connection`, `Keep-Alive`, and the framing, which the answer's new
/// carrier sets itself).
pub(super) fn end_to_end(mut headers: http::HeaderMap) -> http::HeaderMap {
    use http::header::{CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING};
    for name in [CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING] {
        headers.remove(name);
    }
    headers.remove("keep-alive");
    headers
}
