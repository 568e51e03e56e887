//! Two buffered requests on one connection, the second sent behind the
//! first before its answer is back: what a client writes, and what the
//! first answer means for the second. Clients do the reading; the rules are
//! here, once.

use bytes::Bytes;
use http::{Request, Response};

use super::write_head;

/// What became of the second of two requests a client pipelined on one
/// connection, given what the first answer did to the connection.
#[derive(Debug)]
pub enum Pipelined<E> {
    /// Its answer, or why it could not be read.
    Answer(Result<Response<Bytes>, E>),
    /// The server did not serve it: the connection ended cleanly after the
    /// first answer (the server asked to close, or closed with nothing
    /// more sent). It is safe to send again.
    NotServed,
    /// The first request failed, and the connection with it: one transport
    /// error stands for both.
    Lost,
}

/// Writes both requests, heads and bodies, into `out`, to go out in one
/// write.
pub fn write_pipelined(out: &mut Vec<u8>, first: &Request<Bytes>, second: &Request<Bytes>) {
    out.reserve(512 + first.body().len() + second.body().len());
    for request in [first, second] {
        write_head(out, request, false);
        out.extend_from_slice(request.body());
    }
}

/// What the first answer (as [`end_exchange`](super::end_exchange) left
/// it, with whether the connection is kept) decides for the second:
/// `None` when its answer is to be read on this connection, which the
/// client then drops unless the read finds the connection ended before a
/// byte ([`Pipelined::NotServed`]); otherwise its fate, and the connection
/// is dropped.
pub fn second_after_first<E>(first: &Result<Response<Bytes>, E>, kept: bool) -> Option<Pipelined<E>> {
    match (first, kept) {
        (Err(_), _) => Some(Pipelined::Lost),
        (Ok(_), false) => Some(Pipelined::NotServed),
        (Ok(_), true) => None,
    }
}

/// What a first read for the second answer decides when the first answer
/// kept the connection: `ended` is whether it found the connection ended
/// before a byte (or why it failed). `None`: read the answer; otherwise its
/// fate, and the connection is dropped.
pub fn second_before_reading<E>(ended: Result<bool, E>) -> Option<Pipelined<E>> {
    match ended {
        Ok(false) => None,
        Ok(true) => Some(Pipelined::NotServed),
        Err(error) => Some(Pipelined::Answer(Err(error))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str) -> Request<Bytes> {
        Request::builder().uri(path).header("host", "h").body(Bytes::new()).unwrap()
    }

    #[test]
    fn both_requests_are_written_in_order_with_their_bodies() {
        let first = Request::builder()
            .method("POST")
            .uri("/a")
            .header("host", "h")
            .header("content-length", "2")
            .body(Bytes::from_static(b"hi"))
            .unwrap();
        let mut out = Vec::new();
        write_pipelined(&mut out, &first, &get("/b"));
        let text = String::from_utf8(out).unwrap();
        let (a, b) = (text.find("POST /a ").unwrap(), text.find("GET /b ").unwrap());
        assert!(a < text.find("\r\n\r\nhi").unwrap() && text.find("\r\n\r\nhi").unwrap() < b, "{text}");
    }

    #[test]
    fn the_first_answer_decides_whether_the_second_is_read() {
        let ok: Result<Response<Bytes>, ()> = Ok(Response::new(Bytes::new()));
        assert!(second_after_first(&ok, true).is_none());
        assert!(matches!(second_after_first(&ok, false), Some(Pipelined::NotServed)));
        assert!(matches!(second_after_first(&Err::<Response<Bytes>, ()>(()), true), Some(Pipelined::Lost)));
        assert!(matches!(second_after_first(&Err::<Response<Bytes>, ()>(()), false), Some(Pipelined::Lost)));
    }

    #[test]
    fn a_connection_that_ended_before_a_byte_did_not_serve_the_second() {
        assert!(second_before_reading::<()>(Ok(false)).is_none());
        assert!(matches!(second_before_reading::<()>(Ok(true)), Some(Pipelined::NotServed)));
        assert!(matches!(second_before_reading(Err("reset")), Some(Pipelined::Answer(Err("reset")))));
    }
}
