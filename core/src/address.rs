//! Where the platform listens: `AWS_LAMBDA_RUNTIME_API`.

use std::fmt;
use std::str::FromStr;

use http::uri::{Authority, PathAndQuery};
use http::{HeaderValue, Uri};

/// Why `AWS_LAMBDA_RUNTIME_API` could not be used.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum AddressError {
    /// The value is empty or blank.
    #[error("the API address is empty")]
    Empty,
    /// A scheme other than `http` was given; the platform speaks plain HTTP.
    #[error("unsupported scheme {0:?}: the Lambda APIs are plain http")]
    UnsupportedScheme(String),
    /// The `host:port` part is not a valid authority (or carries user info).
    #[error("invalid host:port {0:?}")]
    InvalidAuthority(String),
    /// The path prefix holds a query, a fragment or bytes not allowed in a path.
    #[error("invalid path prefix {0:?}")]
    InvalidPath(String),
}

/// A parsed `AWS_LAMBDA_RUNTIME_API`: an authority and an optional path prefix.
///
/// Accepts every form seen in practice: `127.0.0.1:9001`, `localhost:9001`,
/// `[::1]:9001`, `http://127.0.0.1:9001`, and a path prefix as
/// `http://127.0.0.1:9100/.rt` (trailing slashes are dropped). Guarantees that
/// [`uri`](Self::uri) succeeds for every path built from validated ids.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ApiAddress {
    authority: Authority,
    host_header: HeaderValue,
    /// Empty, or `/segment…` without a trailing slash.
    prefix: Box<str>,
}

impl ApiAddress {
    /// Parses the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn parse(raw: &str) -> Result<Self, AddressError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(AddressError::Empty);
        }
        let rest = match raw.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some((scheme, _)) => return Err(AddressError::UnsupportedScheme(scheme.to_owned())),
            None => raw,
        };
        let (host, path) = match rest.find('/') {
            Some(at) => rest.split_at(at),
            None => (rest, ""),
        };
        if host.is_empty() || host.contains('@') {
            return Err(AddressError::InvalidAuthority(host.to_owned()));
        }
        let authority =
            Authority::from_str(host).map_err(|_| AddressError::InvalidAuthority(host.to_owned()))?;
        let after_ipv6 = host.rsplit_once(']').map_or(host, |(_, rest)| rest);
        if after_ipv6.contains(':') && authority.port_u16().is_none() {
            return Err(AddressError::InvalidAuthority(host.to_owned()));
        }
        let host_header = HeaderValue::from_str(authority.as_str())
            .map_err(|_| AddressError::InvalidAuthority(host.to_owned()))?;
        let prefix = path.trim_end_matches('/');
        let path_is_plain = prefix.bytes().all(|b| b.is_ascii_graphic() && !b"?#".contains(&b));
        if !path_is_plain || PathAndQuery::from_str(if prefix.is_empty() { "/" } else { prefix }).is_err() {
            return Err(AddressError::InvalidPath(path.to_owned()));
        }
        Ok(Self { authority, host_header, prefix: prefix.into() })
    }

    /// The `host:port` to connect to.
    pub fn authority(&self) -> &Authority {
        &self.authority
    }

    /// The value for the `Host` header.
    pub fn host_header(&self) -> &HeaderValue {
        &self.host_header
    }

    /// The path prefix, empty or starting with `/`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The absolute URI of `path` (which starts with `/`) under this address.
    pub fn uri(&self, path: &str) -> Result<Uri, http::Error> {
        let mut path_and_query = String::with_capacity(self.prefix.len() + path.len());
        path_and_query.push_str(&self.prefix);
        path_and_query.push_str(path);
        let mut parts = http::uri::Parts::default();
        parts.scheme = Some(http::uri::Scheme::HTTP);
        parts.authority = Some(self.authority.clone());
        parts.path_and_query = Some(PathAndQuery::from_maybe_shared(bytes::Bytes::from(path_and_query))?);
        Ok(Uri::from_parts(parts)?)
    }
}

impl FromStr for ApiAddress {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, AddressError> {
        Self::parse(s)
    }
}

impl fmt::Display for ApiAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.authority, self.prefix)
    }
}

impl fmt::Debug for ApiAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiAddress({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_seen_in_practice_parses() {
        for (raw, authority, prefix) in [
            ("127.0.0.1:9001", "127.0.0.1:9001", ""),
            ("localhost:9001", "localhost:9001", ""),
            ("[::1]:9001", "[::1]:9001", ""),
            ("http://127.0.0.1:9001", "127.0.0.1:9001", ""),
            ("HTTP://127.0.0.1:9001/", "127.0.0.1:9001", ""),
            ("http://127.0.0.1:9100/.rt", "127.0.0.1:9100", "/.rt"),
            ("http://127.0.0.1:9100/a/b/", "127.0.0.1:9100", "/a/b"),
            ("  127.0.0.1:9001\n", "127.0.0.1:9001", ""),
        ] {
            let addr = ApiAddress::parse(raw).unwrap();
            assert_eq!(addr.authority().as_str(), authority, "{raw}");
            assert_eq!(addr.prefix(), prefix, "{raw}");
        }
    }

    #[test]
    fn uri_joins_prefix_and_path() {
        let addr = ApiAddress::parse("http://127.0.0.1:9100/.rt").unwrap();
        let uri = addr.uri("/2018-06-01/runtime/invocation/next").unwrap();
        assert_eq!(uri, "http://127.0.0.1:9100/.rt/2018-06-01/runtime/invocation/next");
        assert_eq!(addr.host_header(), "127.0.0.1:9100");
    }

    #[test]
    fn bad_addresses_are_typed_errors() {
        assert_eq!(ApiAddress::parse(" "), Err(AddressError::Empty));
        assert_eq!(ApiAddress::parse("https://x:1"), Err(AddressError::UnsupportedScheme("https".into())));
        assert!(matches!(ApiAddress::parse("http:///x"), Err(AddressError::InvalidAuthority(_))));
        assert!(matches!(ApiAddress::parse("u@h:1"), Err(AddressError::InvalidAuthority(_))));
        assert!(matches!(ApiAddress::parse("h:1/p?q=1"), Err(AddressError::InvalidPath(_))));
        assert!(matches!(ApiAddress::parse("h:1/p#f"), Err(AddressError::InvalidPath(_))));
        assert!(matches!(ApiAddress::parse("h:1/a b"), Err(AddressError::InvalidPath(_))));
        assert!(matches!(ApiAddress::parse("h:notaport"), Err(AddressError::InvalidAuthority(_))));
    }
}
