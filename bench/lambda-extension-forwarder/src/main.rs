//! A telemetry forwarder written with the official `lambda-extension`
//! crate: platform and function records, each batch POSTed as a JSON array
//! to `LAMBDA_SANSIO_SINK_URL` (`http://host:port/path`) over a kept-alive
//! connection. The baseline of `bench/forwarder.sh`.

use std::sync::Arc;

use lambda_extension::{service_fn, Error, Extension, LambdaTelemetry, SharedService};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

struct Sink {
    authority: String,
    path: String,
    stream: Option<BufReader<TcpStream>>,
}

impl Sink {
    fn new(url: &str) -> Result<Self, Error> {
        let rest = url.strip_prefix("http://").ok_or("LAMBDA_SANSIO_SINK_URL must start with http://")?;
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        Ok(Self { authority: authority.to_owned(), path: format!("/{path}"), stream: None })
    }

    async fn post(&mut self, body: Vec<u8>) -> Result<(), Error> {
        let result = self.exchange(&body).await;
        if result.is_err() {
            self.stream = None;
        }
        result
    }

    async fn exchange(&mut self, body: &[u8]) -> Result<(), Error> {
        if self.stream.is_none() {
            self.stream = Some(BufReader::new(TcpStream::connect(&self.authority).await?));
        }
        let stream = self.stream.as_mut().ok_or("no connection")?;
        let head = format!(
            "POST {} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            self.path,
            self.authority,
            body.len()
        );
        stream.get_mut().write_all(&[head.as_bytes(), body].concat()).await?;
        let (mut status, mut length) = (String::new(), 0usize);
        stream.read_line(&mut status).await?;
        loop {
            let mut line = String::new();
            stream.read_line(&mut line).await?;
            if line.trim().is_empty() {
                break;
            }
            if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse()?;
            }
        }
        let mut answer = vec![0; length];
        stream.read_exact(&mut answer).await?;
        if !status.split_whitespace().nth(1).is_some_and(|code| code.starts_with('2')) {
            return Err(format!("the sink answered {}", status.trim()).into());
        }
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let url = std::env::var("LAMBDA_SANSIO_SINK_URL").map_err(|_| "LAMBDA_SANSIO_SINK_URL is not set")?;
    let sink = Arc::new(Mutex::new(Sink::new(&url)?));
    let handler = move |records: Vec<LambdaTelemetry>| {
        let sink = Arc::clone(&sink);
        async move {
            let body = serde_json::to_vec(&records)?;
            sink.lock().await.post(body).await?;
            Ok::<(), Error>(())
        }
    };
    Extension::new()
        .with_telemetry_types(&["platform", "function"])
        .with_telemetry_processor(SharedService::new(service_fn(handler)))
        .run()
        .await
}
