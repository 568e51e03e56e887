//! What a telemetry listener answers the platform, sans I/O: the one place
//! that decides statuses and limits for every transport's listener.

use http::{Method, StatusCode};

use super::record::{decode_batch, TelemetryRecord};
use super::subscription::Buffering;

/// Largest batch body a listener accepts: the largest `maxBytes` a
/// subscription may ask for, twice over for framing and escaping.
pub const MAX_BATCH_BYTES: usize = 2 * (*Buffering::MAX_BYTES.end() as usize);

/// What to answer a delivery, and the records it carried.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchAnswer {
    /// `200` for a batch taken; `400` for a body that is not a batch (the
    /// platform does not retry it); `405` for a method other than `POST`.
    pub status: StatusCode,
    /// The records, for a `200`.
    pub records: Vec<TelemetryRecord>,
}

/// The answer to a delivery whose whole body was read. A body over
/// [`MAX_BATCH_BYTES`] is refused by the transport before reading it, with
/// [`too_large`].
pub fn receive_batch(method: &Method, body: &[u8]) -> BatchAnswer {
    if method != Method::POST {
        return BatchAnswer { status: StatusCode::METHOD_NOT_ALLOWED, records: Vec::new() };
    }
    match decode_batch(body) {
        Ok(records) => BatchAnswer { status: StatusCode::OK, records },
        Err(_) => BatchAnswer { status: StatusCode::BAD_REQUEST, records: Vec::new() },
    }
}

/// The answer to a delivery larger than [`MAX_BATCH_BYTES`].
pub fn too_large() -> BatchAnswer {
    BatchAnswer { status: StatusCode::PAYLOAD_TOO_LARGE, records: Vec::new() }
}

/// The address `/etc/hosts` (its text: `hosts`) gives `sandbox.localdomain`,
/// where a listener binds on Lambda. Read from the file, never from DNS, so
/// no query leaves the machine; `None` where the file does not name it.
pub fn sandbox_address(hosts: &str) -> Option<std::net::IpAddr> {
    hosts.lines().find_map(|line| {
        let line = line.split('#').next().unwrap_or_default();
        let mut fields = line.split_whitespace();
        let address = fields.next()?.parse().ok()?;
        fields.any(|name| name.eq_ignore_ascii_case(super::Subscription::SANDBOX_HOST)).then_some(address)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_taken_and_everything_else_refused() {
        let taken = receive_batch(&Method::POST, br#"[{"time":"t","type":"function","record":"hi"}]"#);
        assert_eq!((taken.status, taken.records.len()), (StatusCode::OK, 1));
        assert_eq!(receive_batch(&Method::POST, b"{}").status, StatusCode::BAD_REQUEST);
        assert_eq!(receive_batch(&Method::GET, b"[]").status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(too_large().status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(MAX_BATCH_BYTES, 2 * 1_048_576);
    }

    #[test]
    fn the_sandbox_address_comes_from_the_hosts_file_only() {
        let hosts = "127.0.0.1 localhost\n# 10.0.0.1 sandbox.localdomain\n169.254.100.1  sandbox  Sandbox.LocalDomain # lambda\n";
        assert_eq!(sandbox_address(hosts), "169.254.100.1".parse().ok());
        assert_eq!(sandbox_address("127.0.0.1 localhost\n"), None);
        assert_eq!(sandbox_address("not-an-address sandbox.localdomain\n"), None);
    }
}
