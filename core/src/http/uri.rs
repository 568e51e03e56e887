//! Percent-encoding for the paths and query strings events carry, which may
//! be decoded (REST APIs) or hold bytes a URI cannot.

/// Characters a path segment or query may hold as they are (RFC 3986
/// `pchar` plus `/` and `?`), besides letters and digits.
const KEPT: &[u8] = b"-._~!$&'()*+,;=:@/?";

fn push_escaped(out: &mut String, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(char::from(HEX[usize::from(byte >> 4)]));
    out.push(char::from(HEX[usize::from(byte & 0xf)]));
}

fn is_escape(bytes: &[u8], at: usize) -> bool {
    bytes.len() > at + 2 && bytes[at + 1].is_ascii_hexdigit() && bytes[at + 2].is_ascii_hexdigit()
}

/// `raw` with every byte a URI path or query cannot hold escaped; escapes
/// already present (`%2F`) are kept, a lone `%` becomes `%25`.
pub(super) fn escape_raw(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    for (at, &byte) in bytes.iter().enumerate() {
        if byte.is_ascii_alphanumeric() || KEPT.contains(&byte) || (byte == b'%' && is_escape(bytes, at)) {
            out.push(char::from(byte));
        } else {
            push_escaped(&mut out, byte);
        }
    }
    out
}

/// A decoded query key or value, encoded so that it reads back the same
/// (only unreserved characters are kept).
pub(super) fn escape_component(decoded: &str) -> String {
    let mut out = String::with_capacity(decoded.len());
    for &byte in decoded.as_bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            push_escaped(&mut out, byte);
        }
    }
    out
}

/// A query key or value as a REST API or ALB decodes it: `+` is a space,
/// escapes become bytes, invalid UTF-8 is replaced.
pub(super) fn decode_component(encoded: &str) -> String {
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'+' => out.push(b' '),
            b'%' if is_escape(bytes, at) => {
                let hex = std::str::from_utf8(&bytes[at + 1..at + 3]).unwrap_or("00");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(0));
                at += 2;
            }
            other => out.push(other),
        }
        at += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The `(key, value)` pairs of a raw query string, decoded, in order.
pub(super) fn query_pairs(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode_component(key), decode_component(value))
        })
        .collect()
}
