//! Whether a keep-alive connection carries another exchange.

use bytes::Bytes;
use http::header::CONNECTION;
use http::{HeaderMap, Request, Response, Version};

/// Whether a message asks for its connection to close after this exchange:
/// `close` among its `Connection` options (in any case, in any of the
/// header's lines), or HTTP/1.0 without `keep-alive`.
pub fn wants_close(version: Version, headers: &HeaderMap) -> bool {
    let says = |option: &str| {
        headers
            .get_all(CONNECTION)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .any(|token| token.trim().eq_ignore_ascii_case(option))
    };
    says("close") || (version == Version::HTTP_10 && !says("keep-alive"))
}

/// Ends one exchange of a keep-alive client: the answer (or the error) and
/// whether the connection may carry another exchange. It may only after a
/// whole answer whose body was not delimited by the close (`reusable`, as
/// [`Decoded`](super::Decoded) says), when neither `request` nor the answer
/// asks to close ([`wants_close`]); after an error it may not.
pub fn end_exchange<E>(
    request: &Request<Bytes>,
    result: Result<(Response<Bytes>, bool), E>,
) -> (Result<Response<Bytes>, E>, bool) {
    match result {
        Ok((response, reusable)) => {
            let keep = reusable
                && !wants_close(request.version(), request.headers())
                && !wants_close(response.version(), response.headers());
            (Ok(response), keep)
        }
        Err(error) => (Err(error), false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(CONNECTION, value.parse().unwrap());
        }
        headers
    }

    #[test]
    fn close_is_asked_in_any_case_among_the_options() {
        let h11 = Version::HTTP_11;
        assert!(!wants_close(h11, &headers(&[])));
        assert!(wants_close(h11, &headers(&["Close"])));
        assert!(!wants_close(h11, &headers(&["keep-alive"])));
        assert!(wants_close(h11, &headers(&["keep-alive, close"])));
        assert!(wants_close(h11, &headers(&["upgrade", " CLOSE "])));
        assert!(!wants_close(h11, &headers(&["closed"])));
    }

    #[test]
    fn http_1_0_closes_unless_it_keeps_alive() {
        assert!(wants_close(Version::HTTP_10, &headers(&[])));
        assert!(!wants_close(Version::HTTP_10, &headers(&["Keep-Alive"])));
        assert!(wants_close(Version::HTTP_10, &headers(&["keep-alive", "close"])));
    }

    #[test]
    fn a_connection_is_kept_only_after_a_whole_answer_neither_side_closes() {
        let request = Request::new(Bytes::new());
        let answer = |close: bool| {
            let mut response = Response::new(Bytes::new());
            if close {
                response.headers_mut().insert(CONNECTION, "close".parse().unwrap());
            }
            response
        };
        assert!(end_exchange::<()>(&request, Ok((answer(false), true))).1);
        assert!(!end_exchange::<()>(&request, Ok((answer(false), false))).1, "body ran until close");
        assert!(!end_exchange::<()>(&request, Ok((answer(true), true))).1, "the answer closes");
        let mut closing = Request::new(Bytes::new());
        closing.headers_mut().insert(CONNECTION, "close".parse().unwrap());
        assert!(!end_exchange::<()>(&closing, Ok((answer(false), true))).1, "the request closes");
        let mut old = answer(false);
        *old.version_mut() = Version::HTTP_10;
        assert!(!end_exchange::<()>(&request, Ok((old, true))).1, "an HTTP/1.0 answer closes");
        let (result, keep) = end_exchange(&request, Err::<(Response<Bytes>, bool), _>("reset"));
        assert_eq!((result.err(), keep), (Some("reset"), false));
    }
}
