//! The platform's handling of Runtime API calls.

use bytes::Bytes;
use http::StatusCode;

use super::event::{InitFailure, Outcome, PlatformEvent};
use super::machine::{ConnId, PlatformMachine};
use super::reply::{invalid_state, Reply};
use crate::headers;
use crate::ids::RequestId;
use crate::report::has_platform_shape;
use crate::report::ErrorReport;
use crate::runtime::requests::{response_too_large_report, MAX_BUFFERED_RESPONSE};
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

/// Why a request's body could not be read whole by the server in front of
/// the machine; see [`PlatformMachine::handle_unreadable_request`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnreadableBody {
    /// It is longer than the server reads.
    TooLarge,
    /// The connection ended before the declared length or the last chunk.
    Truncated,
}

impl UnreadableBody {
    /// The answer to a request with this body: `413 RequestEntityTooLarge`
    /// or `400 TruncatedHTTPRequest`.
    pub(super) fn reply(self) -> Reply {
        match self {
            Self::TooLarge => Reply::error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                "response payload exceeds 6291556 bytes",
            ),
            Self::Truncated => {
                Reply::error(StatusCode::BAD_REQUEST, "TruncatedHTTPRequest", "the request body ended early")
            }
        }
    }
}

/// Largest streamed response the platform takes (200 MB).
pub const MAX_STREAMED_RESPONSE: usize = 200 * 1000 * 1000;

/// How much of a request's body a server in front of the platform machine
/// should read before refusing it as too large: a streamed response (by its
/// `Lambda-Runtime-Function-Response-Mode` header) up to
/// [`MAX_STREAMED_RESPONSE`]; any other body up to 8 MiB, above the 6 MiB +
/// 100 B of a buffered response so that the machine itself answers `413`
/// to the sizes in between.
pub fn body_read_limit(headers: &http::HeaderMap) -> usize {
    let streamed = headers
        .get(headers::RESPONSE_MODE)
        .is_some_and(|mode| mode.as_bytes().eq_ignore_ascii_case(b"streaming"));
    if streamed {
        MAX_STREAMED_RESPONSE
    } else {
        8 * 1024 * 1024
    }
}

/// The error type the platform records for an answer whose body ended early.
pub const TRUNCATED_RESPONSE: &str = "Runtime.TruncatedResponse";

fn truncated_response_report() -> ErrorReport {
    ErrorReport::new(TRUNCATED_RESPONSE, "The runtime's response ended before its declared length.")
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
        unreadable: Option<UnreadableBody>,
    ) {
        let reply = self.answer_reply(raw_id, request, is_error, unreadable);
        self.reply(conn, reply);
    }

    fn answer_reply(
        &mut self,
        raw_id: &str,
        request: &http::Request<Bytes>,
        is_error: bool,
        unreadable: Option<UnreadableBody>,
    ) -> Reply {
        let invalid_id = || Reply::error(StatusCode::BAD_REQUEST, "InvalidRequestID", "unknown request id");
        let Ok(id) = RequestId::new(raw_id) else {
            return unreadable.map_or_else(invalid_id, UnreadableBody::reply);
        };
        let Some(at) = self.active.iter().position(|a| a.request_id == id && !a.answered) else {
            // A server refuses a body it cannot read before looking further.
            if let Some(problem) = unreadable {
                return problem.reply();
            }
            if self.expired.contains(&id) {
                return Reply::error(StatusCode::GONE, "InvokeTimeout", "the invocation timed out");
            }
            if self.closed_by_platform.contains(&id) {
                return invalid_state("the platform already ended this invocation");
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
        let too_large = unreadable == Some(UnreadableBody::TooLarge)
            || (!streamed && !is_error && body.len() > MAX_BUFFERED_RESPONSE);
        if too_large || unreadable == Some(UnreadableBody::Truncated) {
            // As Lambda does: the invocation ends here, the platform reports
            // the size error (or the truncation) to the caller, the response
            // counts as sent, and a later answer or error report gets 403.
            let (report, problem) = if too_large {
                (response_too_large_report(), UnreadableBody::TooLarge)
            } else {
                (truncated_response_report(), UnreadableBody::Truncated)
            };
            let outcome = Outcome::Error { error_type: report.error_type.clone(), body: report.to_body() };
            self.end_answered(at, id.clone(), outcome);
            self.remember_closed_by_platform(id);
            return problem.reply();
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
            let content_type = headers.get(http::header::CONTENT_TYPE).cloned();
            Outcome::Response { body, streamed, content_type }
        };
        self.end_answered(at, id, outcome);
        Reply::accepted()
    }

    /// Active invocation `at` got its outcome: in classic mode it stays
    /// until every INVOKE extension is done with it, in concurrent mode it
    /// frees its slot.
    fn end_answered(&mut self, at: usize, id: RequestId, outcome: Outcome) {
        match self.config.mode {
            Mode::Classic => {
                self.active[at].answered = true;
                self.active[at].invocation = None;
            }
            Mode::Concurrent { .. } => {
                self.active.remove(at);
            }
        }
        self.complete(id.clone(), outcome);
        if matches!(self.config.mode, Mode::Concurrent { .. }) {
            // No INVOKE extensions under Managed Instances: over at once.
            self.events.push_back(PlatformEvent::InvocationEnded { request_id: id });
        }
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
