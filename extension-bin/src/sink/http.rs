//! JSON arrays POSTed to an HTTP endpoint over a kept-alive connection.

use std::time::Duration;

use bytes::Bytes;
use lambda_sansio::forward::ForwardRecord;
use lambda_sansio_blocking::http1::Connection;

/// Answers larger than this are not read (a sink answers with little).
const MAX_ANSWER: usize = 1024 * 1024;

/// An `http://` or `https://` URL, split for the connection and the
/// request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    pub(crate) url: String,
    pub(crate) tls: bool,
    /// The host name alone, for TLS verification.
    pub(crate) host_name: String,
    /// `host:port` to connect to.
    pub(crate) authority: String,
    /// The `Host` header.
    pub(crate) host: String,
    pub(crate) path: String,
}

impl Endpoint {
    /// Parses an `http://` or `https://` `url`.
    pub(crate) fn parse(url: &str) -> Result<Self, String> {
        let uri: http::Uri = url.parse().map_err(|_| format!("{url:?} is not a URL"))?;
        let tls = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => return Err(format!("{url} must start with http:// or https://")),
        };
        let authority = uri.authority().ok_or_else(|| format!("{url} names no host"))?;
        let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
        Ok(Self {
            url: url.to_owned(),
            tls,
            host_name: authority.host().trim_matches(['[', ']']).to_owned(),
            authority: format!("{}:{port}", authority.host().trim_matches(['[', ']'])),
            host: authority.as_str().to_owned(),
            path: uri.path_and_query().map_or("/".to_owned(), |pq| pq.as_str().to_owned()),
        })
    }
}

/// How a poster reaches its endpoint.
enum Link {
    Plain(Connection),
    #[cfg(feature = "tls")]
    Tls(Box<super::https::TlsConnection>),
}

/// How to reach a sink: the timeout, and a CA file to trust besides the
/// system's (for `https://`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Reach {
    pub(crate) timeout: Duration,
    pub(crate) ca_file: Option<std::path::PathBuf>,
}

/// POSTs bodies to one endpoint, with extra headers.
pub(crate) struct Poster {
    endpoint: Endpoint,
    headers: Vec<(String, String)>,
    link: Link,
}

impl Poster {
    pub(crate) fn new(url: &str, headers: Vec<(String, String)>, reach: &Reach) -> Result<Self, String> {
        let endpoint = Endpoint::parse(url)?;
        let link = if endpoint.tls {
            tls_link(&endpoint, reach)?
        } else {
            Link::Plain(Connection::new(endpoint.authority.clone(), MAX_ANSWER).with_timeout(reach.timeout))
        };
        Ok(Self { endpoint, headers, link })
    }

    /// POSTs `body` as JSON; any `2xx` is success.
    pub(crate) fn post_json(&mut self, body: Bytes) -> Result<(), String> {
        let mut request = http::Request::post(self.endpoint.path.as_str())
            .header(http::header::HOST, self.endpoint.host.as_str())
            .header(http::header::CONTENT_TYPE, "application/json");
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let request = request.body(body).map_err(|e| format!("could not build the request: {e}"))?;
        let answer = match &mut self.link {
            Link::Plain(connection) => connection.send(&request).map_err(|e| e.to_string()),
            #[cfg(feature = "tls")]
            Link::Tls(connection) => connection.send(&request),
        };
        match answer {
            Ok(answer) if answer.status().is_success() => Ok(()),
            Ok(answer) => Err(format!("{} answered {}", self.endpoint.url, answer.status())),
            Err(error) => Err(format!("could not POST to {}: {error}", self.endpoint.url)),
        }
    }

    pub(crate) fn url(&self) -> &str {
        &self.endpoint.url
    }
}

#[cfg(feature = "tls")]
fn tls_link(endpoint: &Endpoint, reach: &Reach) -> Result<Link, String> {
    Ok(Link::Tls(Box::new(super::https::TlsConnection::new(
        endpoint.authority.clone(),
        &endpoint.host_name,
        reach.ca_file.clone(),
        reach.timeout,
        MAX_ANSWER,
    )?)))
}

#[cfg(not(feature = "tls"))]
fn tls_link(endpoint: &Endpoint, reach: &Reach) -> Result<Link, String> {
    let trusted =
        reach.ca_file.as_ref().map_or_else(String::new, |f| format!(" (nor can it use {})", f.display()));
    Err(format!(
        "{} is an https URL, and this build has no TLS: it was built without the `tls` feature{trusted}",
        endpoint.url
    ))
}

/// Sends each batch as one JSON array of the records.
pub(crate) struct HttpSink {
    poster: Poster,
}

impl HttpSink {
    pub(crate) fn new(url: &str, reach: &Reach) -> Result<Self, String> {
        Ok(Self { poster: Poster::new(url, Vec::new(), reach)? })
    }
}

impl super::Sink for HttpSink {
    fn send(&mut self, records: &[ForwardRecord]) -> Result<(), String> {
        let mut body = Vec::with_capacity(records.iter().map(|r| r.body.len() + 1).sum::<usize>() + 2);
        body.push(b'[');
        for (index, record) in records.iter().enumerate() {
            if index > 0 {
                body.push(b',');
            }
            body.extend_from_slice(&record.body);
        }
        body.push(b']');
        self.poster.post_json(Bytes::from(body))
    }

    fn describe(&self) -> String {
        self.poster.url().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_split_into_connection_and_request() {
        let e = Endpoint::parse("http://127.0.0.1:4318/v1/logs?x=1").unwrap();
        assert_eq!(
            (e.authority.as_str(), e.host.as_str(), e.path.as_str()),
            ("127.0.0.1:4318", "127.0.0.1:4318", "/v1/logs?x=1")
        );
        let bare = Endpoint::parse("http://collector").unwrap();
        assert_eq!((bare.authority.as_str(), bare.path.as_str()), ("collector:80", "/"));
        let tls = Endpoint::parse("https://collector.example/v1/logs").unwrap();
        assert!(tls.tls && tls.authority == "collector.example:443" && tls.host_name == "collector.example");
        assert!(Endpoint::parse("ftp://x").unwrap_err().contains("https://"));
        assert!(Endpoint::parse("not a url").is_err());
    }
}
