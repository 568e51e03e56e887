//! The platform's handling of Runtime API calls.

use bytes::Bytes;
use http::StatusCode;

use super::event::{InitFailure, Outcome, PlatformEvent};
use super::machine::{ConnId, PlatformMachine};
use super::reply::{invalid_state, Reply};
use crate::headers;
use crate::ids::RequestId;
use crate::report::has_platform_shape;
use crate::runtime::requests::MAX_BUFFERED_RESPONSE;
use crate::runtime::Mode;

/// The error type the platform records: the header when it has the expected
/// shape, `Runtime.Unknown` otherwise.
pub(super) fn recorded_error_type(headers: &http::HeaderMap, name: &http::HeaderName) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|t| has_platform_shape(t))
        .unwrap_or("Runtime.Unknown")
        .to_owned()
}

impl PlatformMachine {
    pub(super) fn runtime_next(&mut self, conn: ConnId) {
        if self.runtime.init_failed {
            return self.reply(conn, invalid_state("the runtime reported an init error"));
        }
        if let Some(redo) = self.active.iter_mut().find(|a| !a.answered && a.delivered_on.is_none()) {
            if let Some(invocation) = &redo.invocation {
                redo.delivered_on = Some(conn);
                let reply = super::event::next_reply(invocation);
                return self.reply(conn, reply);
            }
        }
        let unanswered = self.active.iter().filter(|a| !a.answered).count();
        let busy = match self.config.mode {
            Mode::Classic => unanswered > 0 || !self.runtime.polls.is_empty(),
            Mode::Concurrent { max } => unanswered + self.runtime.polls.len() >= usize::from(max.get()),
        };
        if busy {
            return self.reply(conn, invalid_state("next called while the runtime has no free slot"));
        }
        if !self.runtime.started {
            self.runtime.started = true;
            self.events.push_back(PlatformEvent::RuntimeReady);
        }
        self.runtime.polls.push_back(conn);
    }

    pub(super) fn runtime_answer(
        &mut self,
        conn: ConnId,
        raw_id: &str,
        request: &http::Request<Bytes>,
        is_error: bool,
    ) {
        let reply = self.answer_reply(raw_id, request, is_error);
        self.reply(conn, reply);
    }

    fn answer_reply(&mut self, raw_id: &str, request: &http::Request<Bytes>, is_error: bool) -> Reply {
        let invalid_id = || Reply::error(StatusCode::BAD_REQUEST, "InvalidRequestID", "unknown request id");
        let Ok(id) = RequestId::new(raw_id) else { return invalid_id() };
        let Some(at) = self.active.iter().position(|a| a.request_id == id && !a.answered) else {
            if self.expired.contains(&id) {
                return Reply::error(StatusCode::GONE, "InvokeTimeout", "the invocation timed out");
            }
            return invalid_id();
        };
        let headers = request.headers();
        if let Some(expected) = &self.active[at].invocation_id {
            if headers.get(headers::INVOCATION_ID) != Some(expected.header_value()) {
                return Reply::error(
                    StatusCode::BAD_REQUEST,
                    "InvalidInvocationID",
                    "invocation id not echoed",
                );
            }
        }
        let mode = headers.get(headers::RESPONSE_MODE);
        let streamed = mode.is_some_and(|m| m.as_bytes().eq_ignore_ascii_case(b"streaming"));
        if mode.is_some() && !streamed {
            return Reply::error(
                StatusCode::BAD_REQUEST,
                "InvalidFunctionResponseMode",
                "unknown response mode",
            );
        }
        let body = request.body().clone();
        if !streamed && !is_error && body.len() > MAX_BUFFERED_RESPONSE {
            return Reply::error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                "response payload exceeds 6291556 bytes",
            );
        }
        let outcome = if is_error {
            Outcome::Error { error_type: recorded_error_type(headers, &headers::FUNCTION_ERROR_TYPE), body }
        } else if streamed && headers.contains_key(headers::FUNCTION_ERROR_TYPE) {
            // A mid-stream failure: the driver merged the trailers into the head.
            let error_body =
                headers.get(headers::FUNCTION_ERROR_BODY).map(|v| Bytes::copy_from_slice(v.as_bytes()));
            Outcome::Error {
                error_type: recorded_error_type(headers, &headers::FUNCTION_ERROR_TYPE),
                body: error_body.unwrap_or_default(),
            }
        } else {
            Outcome::Response { body, streamed }
        };
        match self.config.mode {
            Mode::Classic => {
                self.active[at].answered = true;
                self.active[at].invocation = None;
            }
            Mode::Concurrent { .. } => {
                self.active.remove(at);
            }
        }
        self.complete(id, outcome);
        Reply::accepted()
    }

    pub(super) fn runtime_init_error(&mut self, conn: ConnId, request: &http::Request<Bytes>) {
        if self.runtime.started || self.runtime.init_failed || !self.is_in_init() {
            return self.reply(conn, invalid_state("init error reported after init"));
        }
        self.runtime.init_failed = true;
        self.events.push_back(PlatformEvent::InitFailed {
            source: InitFailure::Runtime,
            error_type: recorded_error_type(request.headers(), &headers::FUNCTION_ERROR_TYPE),
            body: request.body().clone(),
        });
        self.reply(conn, Reply::accepted());
    }

    fn is_in_init(&self) -> bool {
        !self.is_initialized() && !self.is_shutting_down()
    }
}
