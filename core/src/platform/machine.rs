//! The server side of the Runtime and Extensions APIs as a state machine.

use std::collections::VecDeque;

use bytes::Bytes;
use http::StatusCode;

use super::event::{Outcome, PlatformEvent};
use super::reply::Reply;
use super::route::Route;
use super::runtime_api::UnreadableBody;
use crate::extension::{EventType, ShutdownReason};
use crate::ids::{DeadlineMs, ExtensionId, InvocationId, RequestId};
use crate::runtime::Mode;

/// Identifies one client connection. The driver picks the values; a long poll
/// stays parked on its connection until answered or
/// [`connection_closed`](PlatformMachine::connection_closed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// What the function looks like to the platform.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PlatformConfig {
    /// Classic or Managed Instances.
    pub mode: Mode,
    /// `functionName` in the register answer.
    pub function_name: String,
    /// `functionVersion`.
    pub function_version: String,
    /// `handler` (`_HANDLER`).
    pub handler: String,
    /// `accountId`, sent to extensions that accept the feature.
    pub account_id: String,
    /// File names in `/opt/extensions`: a registering name in this list is an
    /// external extension, any other is internal (and may not ask for SHUTDOWN).
    pub external_extensions: Vec<String>,
    /// Most extensions that may register (10 on Lambda).
    pub max_extensions: usize,
    /// How many expired request ids are remembered to answer `410` to late
    /// answers (older ones get `400`); as many ids of invocations the
    /// platform ended after a `413` are remembered to answer `403`.
    pub remembered_expired: usize,
}

impl PlatformConfig {
    /// A classic-mode function with Lambda's limits.
    pub fn new(function_name: impl Into<String>) -> Self {
        Self {
            mode: Mode::Classic,
            function_name: function_name.into(),
            function_version: "$LATEST".into(),
            handler: String::new(),
            account_id: String::new(),
            external_extensions: Vec::new(),
            max_extensions: 10,
            remembered_expired: 64,
        }
    }
}

/// An invocation for the platform to deliver.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NewInvocation {
    /// Its request id; the caller must not reuse one that is queued or active.
    pub request_id: RequestId,
    /// The event.
    pub payload: Bytes,
    /// When it times out.
    pub deadline: DeadlineMs,
    /// The ARN the caller invoked.
    pub invoked_function_arn: String,
    /// X-Ray trace header, if any.
    pub trace_id: Option<String>,
    /// Client context JSON, if any.
    pub client_context: Option<String>,
    /// Cognito identity JSON, if any.
    pub cognito_identity: Option<String>,
    /// Tenant id, if any.
    pub tenant_id: Option<String>,
    /// The per-invoke nonce the runtime must echo, if any.
    pub invocation_id: Option<InvocationId>,
}

/// Refusals of the platform's own inputs (not of client requests, which
/// always get an HTTP answer).
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum PlatformError {
    /// The request id is already queued, active or remembered as expired.
    #[error("request id {0} is already in use")]
    DuplicateRequestId(RequestId),
    /// The environment is shutting down.
    #[error("the environment is shutting down")]
    ShuttingDown,
}

/// Where the environment is in its lifecycle.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Phase {
    Init,
    Running,
    ShuttingDown,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct RuntimeSide {
    /// Has called `next` at least once (its init is over).
    pub(super) started: bool,
    /// Reported an init error.
    pub(super) init_failed: bool,
    /// Parked `next` polls, oldest first.
    pub(super) polls: VecDeque<ConnId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Active {
    pub(super) request_id: RequestId,
    pub(super) invocation_id: Option<InvocationId>,
    pub(super) answered: bool,
    /// The connection it went out on; `None` after a failed delivery, until
    /// the next runtime poll takes it again.
    pub(super) delivered_on: Option<ConnId>,
    /// The invocation, kept until answered so it can be delivered again.
    pub(super) invocation: Option<NewInvocation>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum ExtPhase {
    /// Registered; has not called `next` yet.
    Registered,
    /// Called `next` and has no undelivered or unfinished event.
    Idle,
    /// Got an event and has not called `next` since.
    Busy,
    /// Got SHUTDOWN.
    ShutDown,
    /// Reported an init or exit error; every later call is refused.
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Extension {
    pub(super) id: ExtensionId,
    pub(super) name: String,
    pub(super) invoke: bool,
    pub(super) shutdown: bool,
    pub(super) phase: ExtPhase,
    /// Has subscribed to the Telemetry or Logs API.
    pub(super) subscribed: Option<crate::telemetry::SubscriptionApi>,
    pub(super) poll: Option<ConnId>,
    /// Event bodies not yet delivered, with whether each is SHUTDOWN.
    pub(super) pending: VecDeque<(Bytes, bool)>,
    /// The last event delivered and its connection, until the next poll.
    pub(super) delivered: Option<(ConnId, Bytes, bool)>,
    /// The connection its register answer went out on, until its first
    /// call with the identifier: if that answer cannot be written, the
    /// extension never learnt its identifier and the registration is undone.
    pub(super) registered_on: Option<ConnId>,
}

/// The platform: serves the Runtime, Extensions and Telemetry APIs to one
/// execution environment, following the rules of the real service (and of
/// AWS's Runtime Interface Emulator where the documents are silent).
///
/// Feed every client request to [`handle_request`](Self::handle_request) with
/// the connection it came on; drain [`poll_response`](Self::poll_response) and
/// write each answer to its connection; drain [`poll_event`](Self::poll_event)
/// for what happened. Invocations come in through [`invoke`](Self::invoke),
/// deadlines through [`timeout`](Self::timeout), the end through
/// [`shutdown`](Self::shutdown). Every request gets an answer or is parked as
/// a long poll; nothing panics on any input.
///
/// Lifecycle rules enforced:
/// - Extensions register until the runtime's first `next`
///   (`Extension.RegistrationClosed` after), at most `max_extensions`.
/// - Init completes when the runtime and every registered extension have
///   called `next`; invocations are delivered only after that.
/// - Classic mode: one invocation at a time; it ends when the runtime has
///   answered and every INVOKE-subscribed extension has called `next` again.
///   Managed Instances: up to `max` in flight, extensions get SHUTDOWN only.
/// - Shutdown: SHUTDOWN goes to every extension registered for it, busy or
///   not; one that polls again after it got SHUTDOWN (its answer was lost)
///   gets it again. Unanswered invocations end as [`Outcome::Aborted`].
/// - Answers: `202`, `400 InvalidRequestID` (unknown or answered id),
///   `410 InvokeTimeout` (expired id), `413` (buffered body over 6 MiB + 100 B;
///   the invocation then ends as `Function.ResponseSizeTooLarge` and a later
///   answer for it gets `403 InvalidStateTransition`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PlatformMachine {
    pub(super) config: PlatformConfig,
    pub(super) phase: Phase,
    pub(super) runtime: RuntimeSide,
    pub(super) extensions: Vec<Extension>,
    pub(super) queue: VecDeque<NewInvocation>,
    pub(super) active: Vec<Active>,
    pub(super) expired: VecDeque<RequestId>,
    /// Invocations the platform ended itself (a buffered response over the
    /// limit), remembered like `expired` to answer a late report `403`.
    pub(super) closed_by_platform: VecDeque<RequestId>,
    pub(super) replies: VecDeque<(ConnId, Reply)>,
    pub(super) events: VecDeque<PlatformEvent>,
    pub(super) issued_extensions: u32,
    /// The SHUTDOWN event, once shutdown started: an extension that polls
    /// again after it got SHUTDOWN (its answer was lost) gets it again.
    pub(super) shutdown_event: Option<Bytes>,
}

impl PlatformMachine {
    /// A fresh environment, in init.
    pub fn new(config: PlatformConfig) -> Self {
        Self {
            config,
            phase: Phase::Init,
            runtime: RuntimeSide { started: false, init_failed: false, polls: VecDeque::new() },
            extensions: Vec::new(),
            queue: VecDeque::new(),
            active: Vec::new(),
            expired: VecDeque::new(),
            closed_by_platform: VecDeque::new(),
            replies: VecDeque::new(),
            events: VecDeque::new(),
            issued_extensions: 0,
            shutdown_event: None,
        }
    }

    /// Handles one client request received on `conn`. The answer, if there is
    /// one yet, is available from [`poll_response`](Self::poll_response).
    pub fn handle_request(&mut self, conn: ConnId, request: &http::Request<Bytes>) {
        match Route::of(request) {
            Route::RuntimeNext => self.runtime_next(conn),
            Route::RuntimeResponse { request_id } => {
                self.runtime_answer(conn, request_id, request, false, None)
            }
            Route::RuntimeError { request_id } => self.runtime_answer(conn, request_id, request, true, None),
            Route::RuntimeInitError => self.runtime_init_error(conn, request),
            Route::Register => self.register(conn, request),
            Route::ExtensionNext => self.extension_next(conn, request),
            Route::ExtensionInitError => self.extension_error(conn, request, true),
            Route::ExtensionExitError => self.extension_error(conn, request, false),
            Route::Subscribe(api) => self.subscribe(conn, request, api),
            Route::MethodNotAllowed => self.reply(
                conn,
                Reply::error(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", "wrong method"),
            ),
            Route::NotFound => {
                self.reply(conn, Reply::error(StatusCode::NOT_FOUND, "NotFound", "unknown path"))
            }
        }
        self.progress();
    }

    /// A request whose body the server could not read whole: `head` is the
    /// request with what was read of the body (possibly nothing). An answer
    /// to an active invocation ends it as Lambda does (the platform reports
    /// `Function.ResponseSizeTooLarge` or [`TRUNCATED_RESPONSE`](super::TRUNCATED_RESPONSE) to the
    /// caller, a later answer gets `403`); any other request gets `413` or
    /// `400 TruncatedHTTPRequest`. The server closes the connection after
    /// the answer.
    pub fn handle_unreadable_request(
        &mut self,
        conn: ConnId,
        head: &http::Request<Bytes>,
        problem: UnreadableBody,
    ) {
        match Route::of(head) {
            Route::RuntimeResponse { request_id } => {
                self.runtime_answer(conn, request_id, head, false, Some(problem))
            }
            _ => self.reply(conn, problem.reply()),
        }
        self.progress();
    }

    /// The connection closed: a long poll parked on it is forgotten (its
    /// invocation or event, if any, waits for the next poll).
    pub fn connection_closed(&mut self, conn: ConnId) {
        self.runtime.polls.retain(|&c| c != conn);
        for extension in &mut self.extensions {
            if extension.poll == Some(conn) {
                extension.poll = None;
            }
        }
    }

    /// The answer for `conn` could not be written (the client was gone). An
    /// invocation it carried goes to the runtime's next poll (the extensions
    /// keep the INVOKE they already got), an event goes back to its
    /// extension's pending events, a registration whose identifier never
    /// arrived is undone: nothing accepted is lost or duplicated.
    pub fn delivery_failed(&mut self, conn: ConnId) {
        // A register answer that never arrived: the extension may register
        // again under the same name.
        self.extensions.retain(|e| e.registered_on != Some(conn));
        for active in &mut self.active {
            if !active.answered && active.delivered_on == Some(conn) {
                active.delivered_on = None;
            }
        }
        for extension in &mut self.extensions {
            if extension.phase == ExtPhase::Failed {
                continue;
            }
            let Some((c, body, is_shutdown)) = extension.delivered.take() else { continue };
            if c != conn {
                extension.delivered = Some((c, body, is_shutdown));
                continue;
            }
            extension.pending.push_front((body, is_shutdown));
            extension.phase = ExtPhase::Idle;
        }
        self.progress();
    }

    /// The next answer to write, with its connection.
    pub fn poll_response(&mut self) -> Option<(ConnId, http::Response<Bytes>)> {
        self.replies.pop_front().map(|(conn, reply)| (conn, reply.into_response()))
    }

    /// The next thing that happened.
    pub fn poll_event(&mut self) -> Option<PlatformEvent> {
        self.events.pop_front()
    }

    /// Queues an invocation; it is delivered when the runtime is free.
    pub fn invoke(&mut self, invocation: NewInvocation) -> Result<(), PlatformError> {
        if self.phase == Phase::ShuttingDown {
            return Err(PlatformError::ShuttingDown);
        }
        let id = &invocation.request_id;
        let in_use = self.queue.iter().any(|q| &q.request_id == id)
            || self.active.iter().any(|a| &a.request_id == id)
            || self.expired.contains(id)
            || self.closed_by_platform.contains(id);
        if in_use {
            return Err(PlatformError::DuplicateRequestId(id.clone()));
        }
        self.queue.push_back(invocation);
        self.progress();
        Ok(())
    }

    /// The deadline of invocation `id` passed. An unanswered active invocation
    /// ends as [`Outcome::TimedOut`] (a later answer gets `410`); in classic
    /// mode the environment then shuts down with reason `timeout`. A queued one
    /// is dropped as [`Outcome::TimedOut`]. Returns whether anything happened.
    pub fn timeout(&mut self, id: &RequestId, shutdown_deadline: DeadlineMs) -> bool {
        if let Some(at) = self.queue.iter().position(|q| &q.request_id == id) {
            self.queue.remove(at);
            self.complete(id.clone(), Outcome::TimedOut);
            return true;
        }
        let Some(at) = self.active.iter().position(|a| &a.request_id == id && !a.answered) else {
            return false;
        };
        self.active.remove(at);
        self.remember_expired(id.clone());
        self.complete(id.clone(), Outcome::TimedOut);
        self.events.push_back(PlatformEvent::InvocationEnded { request_id: id.clone() });
        if self.config.mode == Mode::Classic {
            self.shutdown(ShutdownReason::Timeout, shutdown_deadline);
        }
        self.progress();
        true
    }

    /// Starts shutdown: queued invocations end as [`Outcome::Aborted`], and
    /// so do delivered ones the runtime has not answered (the runtime is
    /// stopped with the environment; a late answer gets `403`). SHUTDOWN goes
    /// to every extension that registered for it, busy or not, and again to
    /// one that polls after it got SHUTDOWN. Idempotent.
    pub fn shutdown(&mut self, reason: ShutdownReason, deadline: DeadlineMs) {
        if self.phase == Phase::ShuttingDown {
            return;
        }
        self.phase = Phase::ShuttingDown;
        while let Some(queued) = self.queue.pop_front() {
            self.complete(queued.request_id, Outcome::Aborted);
        }
        // Every delivered invocation is over: unanswered ones end as
        // aborted, answered ones whose extensions were still busy end too
        // (their reports are due before SHUTDOWN).
        for active in std::mem::take(&mut self.active) {
            let id = active.request_id;
            if !active.answered {
                self.remember_closed_by_platform(id.clone());
                self.complete(id.clone(), Outcome::Aborted);
            }
            self.events.push_back(PlatformEvent::InvocationEnded { request_id: id });
        }
        let body = super::event::shutdown_body(&reason, deadline);
        self.shutdown_event = Some(body.clone());
        for index in 0..self.extensions.len() {
            let extension = &mut self.extensions[index];
            if !extension.shutdown || extension.phase == ExtPhase::Failed {
                continue;
            }
            extension.pending.clear();
            extension.pending.push_back((body.clone(), true));
            self.deliver_pending(index);
        }
    }

    /// Whether init has completed.
    pub fn is_initialized(&self) -> bool {
        self.phase != Phase::Init
    }

    /// Whether shutdown has started.
    pub fn is_shutting_down(&self) -> bool {
        self.phase == Phase::ShuttingDown
    }

    /// Whether the environment may be frozen now, as Lambda freezes it
    /// between invocations: classic mode (Managed Instances environments
    /// are never frozen), init complete, not shutting down, no invocation
    /// queued or active, the runtime waiting in `next`, and every extension
    /// that has not failed waiting in `next` with no event pending. A driver
    /// that freezes must thaw before it delivers anything again.
    pub fn may_freeze(&self) -> bool {
        matches!(self.config.mode, Mode::Classic)
            && self.phase == Phase::Running
            && self.queue.is_empty()
            && self.active.is_empty()
            && !self.runtime.polls.is_empty()
            && self
                .extensions
                .iter()
                .all(|e| e.phase == ExtPhase::Failed || (e.poll.is_some() && e.pending.is_empty()))
    }

    /// Invocations delivered and not yet ended.
    pub fn active_invocations(&self) -> impl Iterator<Item = &RequestId> {
        self.active.iter().map(|a| &a.request_id)
    }

    /// Invocations delivered and not yet answered.
    pub fn unanswered_invocations(&self) -> impl Iterator<Item = &RequestId> {
        self.active.iter().filter(|a| !a.answered).map(|a| &a.request_id)
    }

    /// Invocations waiting for the runtime.
    pub fn queued_invocations(&self) -> usize {
        self.queue.len()
    }

    /// Identifiers of the registered extensions.
    pub fn extension_ids(&self) -> impl Iterator<Item = &ExtensionId> {
        self.extensions.iter().map(|e| &e.id)
    }

    pub(super) fn reply(&mut self, conn: ConnId, reply: Reply) {
        self.replies.push_back((conn, reply));
    }

    pub(super) fn complete(&mut self, request_id: RequestId, outcome: Outcome) {
        self.events.push_back(PlatformEvent::InvocationCompleted { request_id, outcome });
    }

    pub(super) fn remember_expired(&mut self, id: RequestId) {
        remember(&mut self.expired, id, self.config.remembered_expired);
    }

    pub(super) fn remember_closed_by_platform(&mut self, id: RequestId) {
        remember(&mut self.closed_by_platform, id, self.config.remembered_expired);
    }

    /// Hands extension `index` its oldest pending event if it is polling.
    pub(super) fn deliver_pending(&mut self, index: usize) {
        let extension = &mut self.extensions[index];
        let Some(conn) = extension.poll else { return };
        if extension.phase == ExtPhase::ShutDown || extension.phase == ExtPhase::Failed {
            return;
        }
        let Some((body, is_shutdown)) = extension.pending.pop_front() else { return };
        extension.poll = None;
        extension.delivered = Some((conn, body.clone(), is_shutdown));
        extension.phase = if is_shutdown { ExtPhase::ShutDown } else { ExtPhase::Busy };
        let id = extension.id.clone();
        self.reply(conn, Reply::json(StatusCode::OK, body));
        if is_shutdown {
            self.events.push_back(PlatformEvent::ShutdownDelivered { id });
        }
    }

    /// Moves the environment forward after any input: completes init, ends
    /// finished invocations, delivers queued ones.
    pub(super) fn progress(&mut self) {
        if self.phase == Phase::Init && self.init_is_done() {
            self.phase = Phase::Running;
            self.events.push_back(PlatformEvent::InitComplete);
        }
        if self.phase != Phase::Running {
            return;
        }
        match self.config.mode {
            Mode::Classic => {
                let ended = self.active.first().is_some_and(|a| a.answered) && self.extensions_idle();
                if ended {
                    for done in std::mem::take(&mut self.active) {
                        self.events.push_back(PlatformEvent::InvocationEnded { request_id: done.request_id });
                    }
                }
                if self.active.is_empty() && self.extensions_idle() {
                    self.dispatch();
                }
            }
            Mode::Concurrent { max } => {
                while self.active.len() < usize::from(max.get()) && !self.runtime.polls.is_empty() {
                    if !self.dispatch() {
                        break;
                    }
                }
            }
        }
    }

    fn init_is_done(&self) -> bool {
        self.runtime.started
            && !self.runtime.init_failed
            && self.extensions.iter().all(|e| matches!(e.phase, ExtPhase::Idle | ExtPhase::Busy))
    }

    /// Every INVOKE extension has called `next` since its last event.
    fn extensions_idle(&self) -> bool {
        self.extensions
            .iter()
            .filter(|e| e.invoke && e.phase != ExtPhase::Failed)
            .all(|e| e.phase == ExtPhase::Idle && e.pending.is_empty())
    }

    /// Delivers the oldest queued invocation to the oldest parked runtime
    /// poll and INVOKE to the extensions. Returns whether one was delivered.
    fn dispatch(&mut self) -> bool {
        if self.queue.is_empty() {
            return false;
        }
        let Some(conn) = self.runtime.polls.pop_front() else { return false };
        let Some(invocation) = self.queue.pop_front() else { return false };
        let event = super::event::invoke_body(&invocation);
        for index in 0..self.extensions.len() {
            let extension = &mut self.extensions[index];
            if extension.invoke && extension.phase != ExtPhase::Failed {
                extension.pending.push_back((event.clone(), false));
                self.deliver_pending(index);
            }
        }
        self.events.push_back(PlatformEvent::InvocationStarted { request_id: invocation.request_id.clone() });
        self.reply(conn, super::event::next_reply(&invocation));
        self.active.push(Active {
            request_id: invocation.request_id.clone(),
            invocation_id: invocation.invocation_id.clone(),
            answered: false,
            delivered_on: Some(conn),
            invocation: Some(invocation),
        });
        true
    }

    pub(super) fn wants(events: &[EventType], wanted: EventType) -> bool {
        events.contains(&wanted)
    }
}

/// Appends `id` to a bounded memory of ids, forgetting the oldest beyond `limit`.
fn remember(ids: &mut VecDeque<RequestId>, id: RequestId, limit: usize) {
    ids.push_back(id);
    while ids.len() > limit {
        ids.pop_front();
    }
}
