//! Fuzz entry points over the decoders, shared by the cargo-fuzz targets
//! (nightly) and the corpus replay test (stable, through `sim::fuzz::TARGETS`). Each panics only when an
//! invariant breaks: a decoder panics, holds more than its limits, or gives
//! a different outcome for the same bytes fed in other pieces.
//!
//! Input: the first byte picks the piece size (1 to 64), the rest is what
//! the peer sends.

use crate::TransportErrorKind;
use bytes::BytesMut;

use super::{Limits, RequestDecoder, ResponseDecoder};

/// Small limits, so the fuzzer reaches them.
const LIMITS: Limits = Limits { max_head: 2048, max_body: 4096 };

/// One decoded message: status (0 for a request), headers, then the body
/// (for a request, the target followed by the body).
type Message = (u16, Vec<(String, Vec<u8>)>, Vec<u8>);

/// What decoding a byte stream gave: the messages in order, then how it
/// ended (`None`: cleanly, at a message boundary).
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    messages: Vec<Message>,
    end: Option<TransportErrorKind>,
}

fn pieces(data: &[u8]) -> (usize, &[u8]) {
    match data.split_first() {
        Some((first, rest)) => (usize::from(first % 64) + 1, rest),
        None => (1, data),
    }
}

/// The response decoder gives the same answers, or fails the same way,
/// whatever the segmentation; bodies stay within the limit.
pub fn response_decoder(data: &[u8]) {
    let (step, bytes) = pieces(data);
    let whole = decode_responses(bytes, bytes.len().max(1));
    let split = decode_responses(bytes, step);
    assert_eq!(whole, split, "segmentation changed the outcome");
}

fn decode_responses(bytes: &[u8], step: usize) -> Outcome {
    let mut decoder = ResponseDecoder::new(LIMITS);
    let mut buffer = BytesMut::new();
    let mut outcome = Outcome { messages: Vec::new(), end: None };
    let record = |decoded: super::Decoded| {
        let response = decoded.response;
        assert!(response.body().len() <= LIMITS.max_body, "a body over the limit was accepted");
        let headers =
            response.headers().iter().map(|(n, v)| (n.to_string(), v.as_bytes().to_vec())).collect();
        (response.status().as_u16(), headers, response.body().to_vec())
    };
    for piece in bytes.chunks(step) {
        buffer.extend_from_slice(piece);
        loop {
            match decoder.decode(&mut buffer) {
                Ok(Some(decoded)) => outcome.messages.push(record(decoded)),
                Ok(None) => break,
                Err(error) => {
                    outcome.end = Some(error.kind);
                    return outcome;
                }
            }
        }
        // Waiting for more, the decoder holds at most a head or one chunk line.
        assert!(buffer.len() <= LIMITS.max_head.max(4096), "the decoder let its buffer grow unbounded");
    }
    match decoder.decode_eof(&mut buffer) {
        Ok(Some(decoded)) => outcome.messages.push(record(decoded)),
        Ok(None) => {}
        Err(error) => outcome.end = Some(error.kind),
    }
    outcome
}

/// The request decoder likewise.
pub fn request_decoder(data: &[u8]) {
    let (step, bytes) = pieces(data);
    let whole = decode_requests(bytes, bytes.len().max(1));
    let split = decode_requests(bytes, step);
    assert_eq!(whole, split, "segmentation changed the outcome");
}

fn decode_requests(bytes: &[u8], step: usize) -> Outcome {
    let mut decoder = RequestDecoder::new(LIMITS);
    let mut buffer = BytesMut::new();
    let mut outcome = Outcome { messages: Vec::new(), end: None };
    for piece in bytes.chunks(step) {
        buffer.extend_from_slice(piece);
        loop {
            match decoder.decode(&mut buffer) {
                Ok(Some(request)) => {
                    assert!(request.body().len() <= LIMITS.max_body, "a body over the limit was accepted");
                    let headers = request
                        .headers()
                        .iter()
                        .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
                        .collect();
                    let target = request.uri().to_string().into_bytes();
                    outcome.messages.push((0, headers, [target, request.body().to_vec()].concat()));
                }
                Ok(None) => break,
                Err(error) => {
                    outcome.end = Some(error.kind);
                    return outcome;
                }
            }
        }
    }
    outcome
}
