//! The runtime's next → invoke → answer loop as a state machine.

use std::collections::VecDeque;

use bytes::Bytes;
use http::HeaderValue;

use super::config::{RuntimeConfig, PIPELINED_MAX_BODY};
use super::error::{ExitReason, Rejection, RuntimeError};
use super::invocation::Invocation;
use super::mode::Mode;
use super::requests;
use super::slot::{Active, Answer, Slot, Work};
use crate::address::ApiAddress;
use crate::attempt::{AfterFailure, Attempt};
#[cfg(doc)]
use crate::exchange::TransportErrorKind;
use std::time::Instant;

use crate::exchange::{BodyMode, Call, Outbound, Token, TransportError};
use crate::ids::RequestId;
use crate::report::{ErrorReport, ServerError};
use crate::retry::RetryPolicy;

/// What the runtime machine tells its host.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RuntimeEvent {
    /// A new invocation: run the handler, then answer it with
    /// [`RuntimeMachine::respond`], [`respond_error`](RuntimeMachine::respond_error)
    /// or [`respond_streaming`](RuntimeMachine::respond_streaming).
    Invoke(Invocation),
    /// The platform accepted the answer to this invocation.
    Answered {
        /// The invocation.
        request_id: RequestId,
    },
    /// The platform refused the answer; the runtime went on with the next
    /// invocation (or, for a streamed response refused with `413`, sends the
    /// size error report first).
    Rejected {
        /// The invocation.
        request_id: RequestId,
        /// The call that was refused.
        call: Call,
        /// The HTTP status.
        status: u16,
        /// The status, classified.
        rejection: Rejection,
        /// The decoded error body.
        server: ServerError,
        /// Whether an error report for the same invocation follows (a
        /// response refused as too large); otherwise the invocation is done.
        replaced: bool,
    },
    /// A streamed answer failed in transit. Its body is gone, so it is not
    /// resent; the platform sees a truncated stream and fails the invocation.
    StreamLost {
        /// The invocation.
        request_id: RequestId,
        /// What the driver saw.
        error: TransportError,
    },
    /// An invocation arrived whose answer could not be read (too many
    /// headers, a malformed line, a body over the limit); its request id
    /// could. The machine reports [`INVALID_EVENT`](super::requests::INVALID_EVENT)
    /// for it and goes on; the host should log one line.
    InvocationUnreadable {
        /// The invocation.
        request_id: RequestId,
        /// What the driver saw.
        error: TransportError,
    },
    /// The machine stopped; the process should exit. Emitted once.
    Exit(ExitReason),
}

/// The runtime side of the Runtime API.
///
/// One machine serves every slot: one in classic mode, `max` in concurrent
/// mode, each slot being one connection the driver keeps (its [`Token`]).
/// A single machine, rather than one per worker, is the one place that knows
/// every invocation in flight, so an answer can go to at most one of them and a
/// fatal status on any connection stops them all, as the platform expects
/// (a `500` means the whole container is broken).
///
/// Per slot: poll `next` → hand the invocation to the host → send its answer
/// → poll `next` again. With [`RuntimeConfig::pipelining`], that `next` goes
/// out behind a small buffered answer before the answer's status is back:
/// every status the table below lets through leads to `next` anyway. A
/// transport error before the answer's status takes the `next` with the
/// connection (the answer is retried, and followed again); a `next` the
/// server never read ([`handle_not_served`](Self::handle_not_served)) is
/// queued again at once. Outcomes by status:
///
/// | call | status | outcome |
/// |---|---|---|
/// | next | 200 | [`RuntimeEvent::Invoke`]; a missing or unsafe request id is fatal |
/// | next | anything else | fatal |
/// | answer | 2xx | [`RuntimeEvent::Answered`], next poll |
/// | answer | 400, 410, other 4xx | [`RuntimeEvent::Rejected`], next poll |
/// | response (buffered) | 413 | [`RuntimeEvent::Rejected`]: the platform itself reported `Function.ResponseSizeTooLarge` and closed the invocation; next poll |
/// | response (streamed) | 413 | [`RuntimeEvent::Rejected`] (`replaced`), then `Function.ResponseSizeTooLarge` is reported for the same invocation |
/// | answer | 403, 5xx, 1xx, 3xx | fatal |
/// | init error | 2xx | exit ([`ExitReason::InitErrorReported`]) |
/// | init error | anything else | fatal |
/// | next | answer arrived but unreadable ([`TransportErrorKind::answer_arrived`]) | request id readable from the head: [`RuntimeEvent::InvocationUnreadable`], `Runtime.InvalidEvent` is reported for it; else fatal [`RuntimeError::UnreadableInvocation`] |
/// | any | other transport error | retry after a back-off ([`poll_timeout`](Self::poll_timeout)) per [`RetryPolicy`], then fatal; a streamed answer is not retried ([`RuntimeEvent::StreamLost`]) |
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RuntimeMachine {
    address: ApiAddress,
    mode: Mode,
    retry: RetryPolicy,
    pipelining: bool,
    trace_id_env: bool,
    slots: Vec<Slot>,
    events: VecDeque<RuntimeEvent>,
    exit: Option<ExitReason>,
}

impl RuntimeMachine {
    /// A machine that starts polling for invocations on every slot.
    pub fn new(config: RuntimeConfig) -> Self {
        let slots = (0..config.mode.slots()).map(|_| Slot::busy(Work::Next)).collect();
        Self::with_slots(config, slots)
    }

    /// A machine that reports an initialisation failure and then exits with
    /// [`ExitReason::InitErrorReported`]. No invocation is polled.
    pub fn init_failed(config: RuntimeConfig, report: ErrorReport) -> Self {
        let mut slots = vec![Slot::Idle; usize::from(config.mode.slots())];
        slots[0] = Slot::busy(Work::InitError(report));
        Self::with_slots(config, slots)
    }

    fn with_slots(config: RuntimeConfig, slots: Vec<Slot>) -> Self {
        Self {
            address: config.address,
            mode: config.mode,
            retry: config.retry,
            pipelining: config.pipelining,
            trace_id_env: config.trace_id_env,
            slots,
            events: VecDeque::new(),
            exit: None,
        }
    }

    /// The mode the machine runs in.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Whether the driver sets `_X_AMZN_TRACE_ID` in the process environment
    /// before each invocation: asked for by
    /// [`RuntimeConfig::trace_id_env`] and allowed by the mode.
    pub fn exports_trace_id_env(&self) -> bool {
        self.trace_id_env && self.mode.exports_trace_id_env()
    }

    /// Why the machine stopped, once it has.
    pub fn exit_reason(&self) -> Option<&ExitReason> {
        self.exit.as_ref()
    }

    /// The next request to send, if any. Returns `None` once the machine has
    /// exited.
    ///
    /// Each token has at most one request outstanding, and the driver hands
    /// back exactly one answer or transport error for it, except when
    /// [`RuntimeConfig::pipelining`] is on: then a buffered answer's token
    /// may get a second request, a `next`, while the answer is outstanding.
    /// The driver sends it on the same connection after the answer and
    /// hands back the two outcomes in order
    /// ([`poll_pipelined`](Self::poll_pipelined) hands it over right after
    /// the answer). When the connection fails
    /// before the answer's outcome, it reports one transport error (the
    /// `next` is forgotten with the connection); when the connection ends
    /// cleanly right after the answer, with nothing more read, it calls
    /// [`handle_not_served`](Self::handle_not_served) for the `next`.
    pub fn poll_request(&mut self) -> Option<Outbound> {
        if self.exit.is_some() {
            return None;
        }
        let index = self.slots.iter().position(Slot::has_queued)?;
        let token = token_of(index);
        if matches!(self.slots[index], Slot::Followed(..)) {
            return self.send_follow(index);
        }
        let Slot::Busy(work, _) = &self.slots[index] else { return None };
        match self.build(work) {
            Ok((body, request)) => {
                let call = work.call();
                let request_id = match work {
                    Work::Answer(active, _) => Some(active.request_id.clone()),
                    Work::Next | Work::InitError(_) => None,
                };
                let followed = self.pipelining
                    && body == BodyMode::Buffered
                    && work.may_be_followed()
                    && request.body().len() <= PIPELINED_MAX_BODY;
                if let Slot::Busy(work, mut attempt) = std::mem::replace(&mut self.slots[index], Slot::Idle) {
                    attempt.sent();
                    self.slots[index] = if followed {
                        Slot::Followed(work, attempt, Attempt::FRESH)
                    } else {
                        Slot::Busy(work, attempt)
                    };
                }
                Some(Outbound { token, call, body, request_id, request })
            }
            Err(error) => {
                self.fail(error);
                None
            }
        }
    }

    /// The `next` to pipeline behind `sent`, the buffered answer just
    /// taken from [`poll_request`](Self::poll_request): when
    /// [`RuntimeConfig::pipelining`] has one follow it, on the same token,
    /// to go out on the same connection right after it. `None`: `sent`
    /// goes alone.
    pub fn poll_pipelined(&mut self, sent: &Outbound) -> Option<Outbound> {
        let index = usize::from(sent.token.0);
        match self.slots.get(index) {
            Some(slot @ Slot::Followed(..)) if slot.has_queued() && self.exit.is_none() => {
                self.send_follow(index)
            }
            _ => None,
        }
    }

    /// Marks the `next` pipelined on slot `index` sent, and builds it.
    fn send_follow(&mut self, index: usize) -> Option<Outbound> {
        let Slot::Followed(_, _, follow) = &mut self.slots[index] else { return None };
        follow.sent();
        match requests::next(&self.address) {
            Ok(request) => Some(Outbound {
                token: token_of(index),
                call: Call::RuntimeNext,
                body: BodyMode::Buffered,
                request_id: None,
                request,
            }),
            Err(error) => {
                self.fail(error.into());
                None
            }
        }
    }

    fn build(&self, work: &Work) -> Result<(BodyMode, http::Request<Bytes>), RuntimeError> {
        let address = &self.address;
        let buffered = |request| (BodyMode::Buffered, request);
        Ok(match work {
            Work::Next => buffered(requests::next(address)?),
            Work::InitError(report) => buffered(requests::init_error(address, report)?),
            Work::Answer(active, answer) => {
                let (id, nonce) = (&active.request_id, active.invocation_id.as_ref());
                match answer {
                    Answer::Response(payload, content_type) => buffered(requests::response(
                        address,
                        id,
                        nonce,
                        payload.clone(),
                        content_type.as_ref(),
                    )?),
                    Answer::Error(report) => buffered(requests::error(address, id, nonce, report)?),
                    Answer::Streamed(content_type) => (
                        BodyMode::Streamed,
                        requests::streaming_response_head(address, id, nonce, content_type.as_ref())?,
                    ),
                }
            }
        })
    }

    /// When the machine next needs [`handle_timeout`](Self::handle_timeout):
    /// the earliest end of a retry's back-off. `None` when nothing waits.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.exit.is_some() {
            return None;
        }
        self.slots.iter().filter_map(|slot| slot.attempt()?.waiting_until()).min()
    }

    /// Time is `now`: every back-off that has ended queues its request
    /// again. An early or spurious call changes nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.exit.is_some() {
            return;
        }
        for slot in &mut self.slots {
            if let Some(attempt) = slot.attempt_mut() {
                attempt.handle_timeout(now);
            }
        }
    }

    /// The next event for the host, if any.
    pub fn poll_event(&mut self) -> Option<RuntimeEvent> {
        self.events.pop_front()
    }

    /// Feeds the platform's answer to the request sent on `token`.
    ///
    /// Returns the fatal error if this answer stopped the machine (the same
    /// error is then also the [`ExitReason`]).
    pub fn handle_response(
        &mut self,
        token: Token,
        response: http::Response<Bytes>,
    ) -> Result<(), RuntimeError> {
        self.check_running()?;
        let index = self.in_flight(token)?;
        let (work, follow) = match std::mem::replace(&mut self.slots[index], Slot::Idle) {
            Slot::Busy(work, _) => (work, None),
            Slot::Followed(work, _, follow) => (work, Some(follow)),
            Slot::Idle | Slot::Handling(_) => return Err(RuntimeError::UnexpectedResponse(token)),
        };
        let call = work.call();
        let outcome = match work {
            Work::Next if response.status() == 200 => self.accept_invocation(index, &response),
            Work::InitError(_) if response.status().is_success() => {
                self.exit_with(ExitReason::InitErrorReported);
                Ok(())
            }
            Work::Answer(active, answer) if !is_fatal_answer_status(response.status()) => {
                self.answer_outcome(index, active, answer, &response);
                Ok(())
            }
            _ => Err(self.fail(RuntimeError::Status {
                call,
                status: response.status().as_u16(),
                server: ServerError::from_body(response.body()),
            })),
        };
        // The pipelined `next` is the one the answer's outcome asked for.
        if let (Some(follow), Slot::Busy(Work::Next, _)) = (follow, &self.slots[index]) {
            self.slots[index] = Slot::Busy(Work::Next, follow);
        }
        outcome
    }

    /// The `next` pipelined on `token` was not served: the connection ended
    /// right after the answer before it (the server asked to close, or
    /// closed with nothing more sent). It is queued again at once, on a new
    /// connection, and not counted as a failure. A connection that broke
    /// mid-answer is a transport error instead.
    pub fn handle_not_served(&mut self, token: Token) -> Result<(), RuntimeError> {
        self.check_running()?;
        let index = self.in_flight(token)?;
        match &mut self.slots[index] {
            Slot::Busy(Work::Next, attempt) => {
                *attempt = Attempt::FRESH;
                Ok(())
            }
            _ => Err(RuntimeError::UnexpectedResponse(token)),
        }
    }

    fn accept_invocation(
        &mut self,
        index: usize,
        response: &http::Response<Bytes>,
    ) -> Result<(), RuntimeError> {
        let invocation = match Invocation::decode(response) {
            Ok(invocation) => invocation,
            Err(error) => return Err(self.fail(RuntimeError::BadInvocation(error))),
        };
        if self.is_active(&invocation.request_id) {
            return Err(self.fail(RuntimeError::DuplicateInvocation(invocation.request_id)));
        }
        self.slots[index] = Slot::Handling(Active {
            request_id: invocation.request_id.clone(),
            invocation_id: invocation.invocation_id.clone(),
        });
        self.events.push_back(RuntimeEvent::Invoke(invocation));
        Ok(())
    }

    /// A non-fatal answer to a response or error post.
    fn answer_outcome(
        &mut self,
        index: usize,
        active: Active,
        answer: Answer,
        response: &http::Response<Bytes>,
    ) {
        let status = response.status();
        if status.is_success() {
            self.events.push_back(RuntimeEvent::Answered { request_id: active.request_id });
            self.slots[index] = Slot::busy(Work::Next);
            return;
        }
        let server = ServerError::from_body(response.body());
        let rejection = Rejection::classify(status.as_u16(), &server);
        // A buffered response refused with 413 ends the invocation: the
        // platform reports `Function.ResponseSizeTooLarge` itself and would
        // answer a report of ours with 403. Only a streamed response refused
        // with 413 is replaced by the size error report (PROTOCOL.md is
        // silent there; see DECISIONS). A refused error report is final.
        let (call, replaced) = match answer {
            Answer::Error(_) => (Call::RuntimeError, false),
            Answer::Response(..) => (Call::RuntimeResponse, false),
            Answer::Streamed(_) => (Call::RuntimeResponse, rejection == Rejection::PayloadTooLarge),
        };
        let replace = replaced;
        self.events.push_back(RuntimeEvent::Rejected {
            request_id: active.request_id.clone(),
            call,
            status: status.as_u16(),
            rejection,
            server,
            replaced,
        });
        self.slots[index] = if replace {
            Slot::busy(Work::Answer(active, Answer::Error(requests::response_too_large_report())))
        } else {
            Slot::busy(Work::Next)
        };
    }

    /// Reports that the request sent on `token` failed in transit at `now`.
    ///
    /// The request is resent once its back-off has passed
    /// ([`poll_timeout`](Self::poll_timeout)); once the retries are used up
    /// the machine stops with [`RuntimeError::Transport`], which is
    /// returned. A streamed answer is never resent.
    pub fn handle_transport_error(
        &mut self,
        token: Token,
        error: TransportError,
        now: Instant,
    ) -> Result<(), RuntimeError> {
        self.check_running()?;
        let index = self.in_flight(token)?;
        if let Slot::Followed(work, attempt, _) = &self.slots[index] {
            // The connection failed before the answer's outcome: the `next`
            // behind it is gone with it, and follows the answer's retry.
            self.slots[index] = Slot::Busy(work.clone(), *attempt);
        }
        let retry = self.retry;
        let Slot::Busy(work, attempt) = &mut self.slots[index] else {
            return Err(RuntimeError::UnexpectedResponse(token));
        };
        if let Work::Answer(active, Answer::Streamed(_)) = work {
            let request_id = active.request_id.clone();
            self.events.push_back(RuntimeEvent::StreamLost { request_id, error });
            self.slots[index] = Slot::busy(Work::Next);
            return Ok(());
        }
        if matches!(work, Work::Next) && error.kind.answer_arrived() {
            return self.unreadable_invocation(index, error);
        }
        match attempt.failed(&retry, now) {
            AfterFailure::Retry => Ok(()),
            AfterFailure::GiveUp { attempts } => {
                let failure = RuntimeError::Transport { call: work.call(), attempts, last: error };
                Err(self.fail(failure))
            }
        }
    }

    /// An answer to `next` arrived and could not be read. The platform
    /// counts it as delivered, so polling again would lose it: report it
    /// when its id can be read, else stop.
    fn unreadable_invocation(&mut self, index: usize, error: TransportError) -> Result<(), RuntimeError> {
        let Some((request_id, invocation_id)) = error.head.as_deref().and_then(super::salvage_ids) else {
            return Err(self.fail(RuntimeError::UnreadableInvocation(error)));
        };
        if self.is_active(&request_id) {
            return Err(self.fail(RuntimeError::DuplicateInvocation(request_id)));
        }
        let report = requests::invalid_event_report(&error);
        let active = Active { request_id: request_id.clone(), invocation_id };
        self.slots[index] = Slot::busy(Work::Answer(active, Answer::Error(report)));
        self.events.push_back(RuntimeEvent::InvocationUnreadable { request_id, error });
        Ok(())
    }

    /// Answers invocation `id` with a buffered payload, sent as
    /// `application/octet-stream`.
    pub fn respond(&mut self, id: &RequestId, payload: Bytes) -> Result<(), RuntimeError> {
        self.answer(id, Answer::Response(payload, None))
    }

    /// Answers invocation `id` with a buffered payload labelled
    /// `content_type` (`application/octet-stream` when `None`).
    pub fn respond_with_content_type(
        &mut self,
        id: &RequestId,
        payload: Bytes,
        content_type: Option<HeaderValue>,
    ) -> Result<(), RuntimeError> {
        self.answer(id, Answer::Response(payload, content_type))
    }

    /// Answers invocation `id` with an error report.
    pub fn respond_error(&mut self, id: &RequestId, report: ErrorReport) -> Result<(), RuntimeError> {
        self.answer(id, Answer::Error(report))
    }

    /// Answers invocation `id` with a streamed response. The request this
    /// queues has [`BodyMode::Streamed`] and goes out on the returned token:
    /// the driver keeps the body's chunks under that token, streams them
    /// when the request comes out of [`poll_request`](Self::poll_request)
    /// and, on a mid-stream failure, ends the body with
    /// [`stream_error_trailers`](super::stream_error_trailers).
    pub fn respond_streaming(
        &mut self,
        id: &RequestId,
        content_type: Option<HeaderValue>,
    ) -> Result<Token, RuntimeError> {
        self.answer_on(id, Answer::Streamed(content_type))
    }

    fn answer(&mut self, id: &RequestId, answer: Answer) -> Result<(), RuntimeError> {
        self.answer_on(id, answer).map(|_| ())
    }

    /// Queues `answer` on the slot handling `id`; returns that slot's token.
    fn answer_on(&mut self, id: &RequestId, answer: Answer) -> Result<Token, RuntimeError> {
        self.check_running()?;
        for (index, slot) in self.slots.iter_mut().enumerate() {
            match slot {
                Slot::Handling(active) if &active.request_id == id => {
                    let active = active.clone();
                    *slot = Slot::busy(Work::Answer(active, answer));
                    return Ok(token_of(index));
                }
                Slot::Busy(Work::Answer(active, _), _) | Slot::Followed(Work::Answer(active, _), ..)
                    if &active.request_id == id =>
                {
                    return Err(RuntimeError::AlreadyAnswered(id.clone()));
                }
                _ => {}
            }
        }
        Err(RuntimeError::UnknownRequestId(id.clone()))
    }

    /// Invocations handed to the host and not yet answered.
    pub fn pending_invocations(&self) -> impl Iterator<Item = &RequestId> {
        self.slots.iter().filter_map(|slot| match slot {
            Slot::Handling(active) => Some(&active.request_id),
            _ => None,
        })
    }

    fn is_active(&self, id: &RequestId) -> bool {
        self.slots.iter().any(|slot| slot.active().is_some_and(|a| &a.request_id == id))
    }

    fn check_running(&self) -> Result<(), RuntimeError> {
        match &self.exit {
            None => Ok(()),
            Some(ExitReason::Fatal(error)) => Err(error.clone()),
            Some(ExitReason::InitErrorReported) => Err(RuntimeError::Exited),
        }
    }

    fn in_flight(&self, token: Token) -> Result<usize, RuntimeError> {
        let index = usize::from(token.0);
        match self.slots.get(index).and_then(Slot::attempt) {
            Some(attempt) if attempt.is_in_flight() => Ok(index),
            _ => Err(RuntimeError::UnexpectedResponse(token)),
        }
    }

    /// Stops the machine with a fatal error and returns it.
    fn fail(&mut self, error: RuntimeError) -> RuntimeError {
        self.exit_with(ExitReason::Fatal(error.clone()));
        error
    }

    fn exit_with(&mut self, reason: ExitReason) {
        if self.exit.is_none() {
            self.exit = Some(reason.clone());
            self.events.push_back(RuntimeEvent::Exit(reason));
        }
    }
}

/// Statuses that end the runtime when they answer a response or error post:
/// `403`, every `5xx`, and anything that is neither success nor client error.
fn is_fatal_answer_status(status: http::StatusCode) -> bool {
    status == http::StatusCode::FORBIDDEN || !(status.is_success() || status.is_client_error())
}

fn token_of(index: usize) -> Token {
    // Slots are counted in u16 (`Mode::slots`), so every index fits.
    Token(u16::try_from(index).unwrap_or(u16::MAX))
}
