//! The fuzz entry point for HTTP events (features `sim` and `http`): any
//! payload is read without a panic, and a request read from it survives
//! being wrapped as its source's event again, as does an answer.

use bytes::Bytes;
use http::Response;

use crate::http::{
    event_from_request, request_from_event, response_from_answer, response_to_event, EventShape,
    HttpInvocation, PathOptions, SynthContext,
};

/// Reads `data` as an invocation's payload; a request it yields must read
/// back the same (method, path, body) once wrapped again, and an answer
/// carrying its body must be read back with that body.
pub fn http_event(data: &[u8]) {
    let HttpInvocation::Request(shape, request) = HttpInvocation::read(data, &PathOptions::default()) else {
        return;
    };
    let wrapped = event_from_request(shape, &request, &SynthContext::default());
    let again = match request_from_event(&wrapped, &PathOptions::default()) {
        Ok(again) => again,
        Err(error) => panic!("a request read from an event does not read back once wrapped again: {error}"),
    };
    assert_eq!(again.method(), request.method());
    assert_eq!(again.uri().path(), request.uri().path());
    assert_eq!(again.body(), request.body());
    assert_eq!(again.extensions().get::<EventShape>(), Some(&shape));
    let mut response = Response::new(request.body().clone());
    *response.headers_mut() = request.headers().clone();
    let answer = response_to_event(shape, response);
    match response_from_answer(shape, &answer) {
        Ok(back) => assert_eq!(back.body(), &Bytes::clone(request.body())),
        Err(error) => panic!("an answer written for {} does not read back: {error}", shape.source),
    }
}
