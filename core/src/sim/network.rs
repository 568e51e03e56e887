//! The network between the clients and the platform: staging requests,
//! handing them to the platform, carrying its answers back, and the faults
//! on the way. Every request and answer passes the observer's checks here.

use bytes::Bytes;
use http::StatusCode;

use super::config::Bug;
use super::wire::{WireRequest, WireResponse};
use super::world::{client_of, logical_now, Conn, Link, LinkState, Violation, World, BUG_TOKEN, RUNTIME};
use super::world::{DEADLINE, SIM_RETRIES};
use crate::extension::{LifecycleEvent, ShutdownReason};
use crate::platform::{PlatformEvent, Route, UnreadableBody};
use crate::{headers, Call, ExtensionId, RequestId, Token, TransportError, TransportErrorKind};

impl World {
    /// Records a request a client produced, checking the client-side
    /// properties, and puts it on its connection.
    pub(super) fn stage(&mut self, client: u8, token: u16, call: Call, request: &http::Request<Bytes>) {
        let conn = Conn { client, token };
        if client == RUNTIME {
            let exited = self.runtime.machine.exit_reason().is_some() || self.runtime.killed;
            self.flag_if(exited, Violation::RequestAfterExit);
            self.flag_if(self.runtime.fatal_seen, Violation::RequestAfterFatal);
            if let Route::RuntimeResponse { request_id } | Route::RuntimeError { request_id } =
                Route::of(request)
            {
                let open = RequestId::new(request_id).is_ok_and(|id| self.runtime.open.contains(&id));
                self.flag_if(!open, Violation::AnsweredTwice);
            }
        } else if let Some(ext) = self.extensions.get(usize::from(client - 1)) {
            let (exited, fatal_seen) = (ext.stopped(), ext.fatal_seen);
            self.flag_if(exited, Violation::RequestAfterExit);
            self.flag_if(fatal_seen, Violation::RequestAfterFatal);
        }
        if self.links.contains_key(&conn) {
            let pipelined = self.may_pipeline(conn, call);
            self.flag_if(!pipelined, Violation::TwoRequestsOnOneConnection);
            if pipelined {
                let link = Link { call, request: WireRequest::capture(request), state: LinkState::Outgoing };
                self.behind.insert(conn, link);
            }
            return;
        }
        self.flag_if(self.backing_off.contains(&conn), Violation::BackoffSkipped);
        let failures = self.failures.get(&conn).copied().unwrap_or(0);
        self.flag_if(failures > SIM_RETRIES, Violation::RetriedTooOften);
        self.links
            .insert(conn, Link { call, request: WireRequest::capture(request), state: LinkState::Outgoing });
    }

    pub(super) fn flag_if(&mut self, condition: bool, violation: Violation) {
        if condition {
            self.violations.insert(violation);
        }
    }

    pub(super) fn send(&mut self, conn: Conn) {
        let Some(link) = self.links.get_mut(&conn) else { return };
        link.state = LinkState::Parked;
        let request = link.request.to_request();
        let refused_unread = self.hand_to_platform(conn, &request);
        self.send_behind(conn, refused_unread);
    }

    /// Hands `request` to the platform; whether the server refused its body
    /// unread (and so closes the connection after its answer).
    pub(super) fn hand_to_platform(&mut self, conn: Conn, request: &http::Request<Bytes>) -> bool {
        match Route::of(request) {
            Route::RuntimeNext => self.runtime.sent_next = true,
            Route::RuntimeResponse { request_id } | Route::RuntimeError { request_id } => {
                let issued = RequestId::new(request_id).is_ok_and(|id| self.issued_requests.contains(&id));
                self.flag_if(!issued, Violation::UnissuedId);
            }
            Route::ExtensionNext
            | Route::ExtensionInitError
            | Route::ExtensionExitError
            | Route::Subscribe(_) => self.extension_request_sent(conn, request),
            _ => {}
        }
        let oversized = self.hosts.oversized_response
            && !is_streamed(request)
            && matches!(Route::of(request), Route::RuntimeResponse { request_id } if request_id == "r2");
        if oversized {
            // The server in front of the platform refuses the body unread.
            self.platform.handle_unreadable_request(conn.id(), request, UnreadableBody::TooLarge);
        } else {
            self.platform.handle_request(conn.id(), request);
        }
        self.pump_platform();
        oversized
    }

    fn extension_request_sent(&mut self, conn: Conn, request: &http::Request<Bytes>) {
        let id = request.headers().get(headers::EXTENSION_IDENTIFIER);
        let issued = id.and_then(|v| ExtensionId::from_bytes(v.as_bytes()).ok());
        let issued = issued.is_some_and(|id| self.issued_extensions.contains(&id));
        self.flag_if(!issued, Violation::UnissuedId);
        let Some(ext) = self.extensions.get_mut(usize::from(conn.client).wrapping_sub(1)) else { return };
        match Route::of(request) {
            Route::ExtensionNext => {
                ext.sent_next = true;
                if let Some(id) = ext.holding.take() {
                    ext.closed.insert(id);
                }
                let registered = ext.registered;
                self.flag_if(!registered, Violation::PollBeforeRegister);
            }
            // Failing closes the INVOKE too: the platform stops waiting for
            // an extension that reported an error.
            Route::ExtensionExitError => ext.holding = None,
            _ => {}
        }
    }

    /// The request staged on `conn` is lost: the client sees a reset. A
    /// streamed response is cut off after its head: the platform reads a
    /// truncated body.
    pub(super) fn lose_request(&mut self, conn: Conn) {
        let Some(link) = self.links.remove(&conn) else { return };
        let request = link.request.to_request();
        if is_streamed(&request) {
            self.platform.handle_unreadable_request(conn.id(), &request, UnreadableBody::Truncated);
            self.pump_platform();
        }
        self.transport_error(conn, &link);
    }

    /// Carries the platform's answers to their links and observes its events.
    pub(super) fn pump_platform(&mut self) {
        while let Some((id, response)) = self.platform.poll_response() {
            let conn = Conn::from_id(id);
            let mut answer = WireResponse::capture(&response);
            if self.bug == Some(Bug::ForgetExpired) && answer.status() == StatusCode::GONE {
                answer = WireResponse::accepted();
            }
            self.carry(conn, answer);
        }
        while let Some(event) = self.platform.poll_event() {
            self.observe(event);
        }
        if self.platform.unanswered_invocations().count() >= 2 {
            self.two_in_flight = true;
        }
        if self.platform.is_shutting_down() {
            if self.bug == Some(Bug::ShutdownToInvokeOnly) {
                self.faulty_shutdown_to_invoke_only();
            }
            self.shutdown = true;
            self.kill_runtime();
            self.kill_extensions_without_shutdown();
        }
    }

    /// Puts `answer` on the parked link `conn`, after the observer's checks.
    pub(super) fn carry(&mut self, conn: Conn, answer: WireResponse) {
        let Some(link) = self.links.get(&conn) else { return };
        if link.state != LinkState::Parked {
            // Answers come in request order: this one is for the request
            // pipelined behind.
            self.carry_behind(conn, answer);
            return;
        }
        let (call, request) = (link.call, link.request.to_request());
        if call == Call::ExtensionNext && answer.status() == StatusCode::OK {
            let event = LifecycleEvent::decode(&answer.to_response().into_body());
            if let (Ok(LifecycleEvent::Shutdown(_)), Some(ext)) =
                (event, self.extensions.get(usize::from(conn.client).wrapping_sub(1)))
            {
                let unregistered = !ext.wants_shutdown();
                self.flag_if(unregistered, Violation::ShutdownToUnregistered);
                let skipped =
                    self.bug == Some(Bug::SkipBusyShutdown) && self.busy_at_shutdown.contains(&conn.client);
                if skipped {
                    return;
                }
            }
        }
        if let Route::RuntimeResponse { request_id } | Route::RuntimeError { request_id } =
            Route::of(&request)
        {
            let remembered = self.expired.iter().any(|id| id.as_str() == request_id);
            let gone = answer.status() == StatusCode::GONE;
            // A body the server cannot read is refused before its id is
            // looked at: 413 is the one other honest answer.
            let unread = answer.status() == StatusCode::PAYLOAD_TOO_LARGE;
            self.flag_if(remembered && !gone && !unread, Violation::ExpiredNotGone);
            self.late_answer_gone |= gone;
        }
        if let Some(link) = self.links.get_mut(&conn) {
            link.state = LinkState::Incoming(answer);
        }
    }

    fn observe(&mut self, event: PlatformEvent) {
        match event {
            PlatformEvent::InitComplete => {
                let everyone = self.runtime.sent_next
                    && self.extensions.iter().filter(|e| e.registered).all(|e| e.sent_next);
                self.flag_if(!everyone, Violation::EarlyInit);
            }
            PlatformEvent::InitFailed { .. } => {
                self.disrupted = true;
                self.start_shutdown(ShutdownReason::Failure);
            }
            PlatformEvent::InvocationStarted { request_id } => {
                self.telemetry.frozen = false;
                self.check_classic_wait(&request_id);
                self.produce(super::telemetry::SimRecord::Start(request_id.clone()));
                self.issued_requests.insert(request_id);
            }
            PlatformEvent::InvocationCompleted { request_id, outcome } => {
                let answered = matches!(outcome, crate::platform::Outcome::Response { .. })
                    || matches!(outcome, crate::platform::Outcome::Error { .. });
                if self.issued_requests.contains(&request_id) {
                    self.produce(super::telemetry::SimRecord::RuntimeDone(request_id.clone()));
                }
                let times = if answered && self.bug == Some(Bug::DoubleOutcome) { 2 } else { 1 };
                for _ in 0..times {
                    self.record_outcome(&request_id, answered);
                }
                if matches!(outcome, crate::platform::Outcome::TimedOut) {
                    self.expired.push_back(request_id);
                    while self.expired.len() > super::world::REMEMBERED_EXPIRED {
                        self.expired.pop_front();
                    }
                }
            }
            PlatformEvent::InvocationEnded { request_id } => {
                // Classic: over only once no INVOKE extension holds it.
                self.check_released(&request_id);
                if self.runtime.machine.mode() == crate::runtime::Mode::Classic {
                    self.freeze(&request_id);
                }
                self.produce(super::telemetry::SimRecord::Report(request_id.clone()));
                let count = self.ended.entry(request_id).or_default();
                *count += 1;
                let twice = *count > 1;
                self.flag_if(twice, Violation::DuplicateOutcome);
            }
            PlatformEvent::Subscribed { .. } => self.telemetry.subscribed = true,
            PlatformEvent::ExtensionRegistered { id, .. } => {
                if self.bug == Some(Bug::PhantomInitNext) && self.issued_extensions.is_empty() {
                    self.faulty_phantom_next(&id);
                }
                self.issued_extensions.push(id);
            }
            _ => {}
        }
    }

    fn record_outcome(&mut self, request_id: &RequestId, answered: bool) {
        let count = self.outcomes.entry(request_id.clone()).or_default();
        *count += 1;
        let twice = *count > 1;
        self.flag_if(twice, Violation::DuplicateOutcome);
        if answered {
            *self.answers.entry(request_id.clone()).or_default() += 1;
        }
    }

    /// Classic mode: invocation `started` may go out only when no INVOKE
    /// extension still holds (or is being sent) an earlier one.
    fn check_classic_wait(&mut self, started: &RequestId) {
        self.check_held(|id| id != started);
    }

    /// Classic mode: invocation `ended` is over, outside shutdown, only once
    /// no INVOKE extension holds it (or is being sent it).
    fn check_released(&mut self, ended: &RequestId) {
        // Shutdown ends every invocation, busy extensions or not.
        if !self.platform.is_shutting_down() {
            self.check_held(|id| id == ended);
        }
    }

    /// Flags an eager invocation if an extension holds, or is being sent,
    /// an INVOKE whose id `matters`.
    fn check_held(&mut self, matters: impl Fn(&RequestId) -> bool) {
        if self.runtime.machine.mode() != crate::runtime::Mode::Classic {
            return;
        }
        let holding =
            self.extensions.iter().filter(|e| !e.stopped()).any(|e| e.holding.as_ref().is_some_and(&matters));
        let in_transit = self.links.iter().any(|(conn, link)| {
            conn.client != RUNTIME && invoke_in(&link.state).is_some_and(|id| matters(&id))
        });
        self.flag_if(holding || in_transit, Violation::EagerInvocation);
    }

    pub(super) fn start_shutdown(&mut self, reason: ShutdownReason) {
        if self.platform.unanswered_invocations().next().is_some() {
            self.shutdown_during_invocation = true;
        }
        if !self.platform.is_shutting_down() {
            for (index, ext) in self.extensions.iter().enumerate() {
                let in_transit = self
                    .links
                    .iter()
                    .any(|(c, l)| usize::from(c.client) == index + 1 && invoke_in(&l.state).is_some());
                if ext.holding.is_some() || in_transit {
                    self.busy_at_shutdown.insert(client_of(index));
                }
            }
        }
        // The platform flushes buffered telemetry before SHUTDOWN.
        self.telemetry.frozen = false;
        self.deliver_telemetry();
        self.platform.shutdown(reason, DEADLINE);
        self.pump_platform();
    }

    /// The runtime process is gone: its connections close.
    pub(super) fn kill_runtime(&mut self) {
        if self.runtime.killed {
            return;
        }
        self.runtime.killed = true;
        self.close_client(RUNTIME);
    }

    /// Extensions that did not register for SHUTDOWN are stopped with the
    /// environment.
    fn kill_extensions_without_shutdown(&mut self) {
        for index in 0..self.extensions.len() {
            let ext = &mut self.extensions[index];
            if ext.registered && !ext.wants_shutdown() && !ext.stopped() {
                ext.killed = true;
                self.close_client(client_of(index));
            }
        }
    }

    pub(super) fn close_client(&mut self, client: u8) {
        let conns: Vec<Conn> = self.links.keys().filter(|c| c.client == client).copied().collect();
        for conn in conns {
            self.links.remove(&conn);
            self.behind.remove(&conn);
            self.platform.connection_closed(conn.id());
        }
    }

    pub(super) fn deliver(&mut self, conn: Conn) {
        let Some(link) = self.links.remove(&conn) else { return };
        let (LinkState::Incoming(answer) | LinkState::Injected(answer)) = &link.state else { return };
        let status = answer.status();
        // The observer's own reading of PROTOCOL.md, kept apart from the
        // machines' on purpose: the "no request after a fatal status"
        // property is an oracle, and one that asked the machine which
        // statuses are fatal could never catch the machine getting it wrong.
        let fatal = status == StatusCode::INTERNAL_SERVER_ERROR
            || (status == StatusCode::FORBIDDEN && link.call != Call::Subscribe);
        if conn.token == BUG_TOKEN {
            return;
        }
        self.failures.remove(&conn);
        let token = Token(conn.token);
        if conn.client == RUNTIME {
            self.runtime.fatal_seen |= fatal;
            if fatal && self.bug == Some(Bug::IgnoreFatal) && link.call == Call::RuntimeNext {
                self.stage(RUNTIME, conn.token, link.call, &link.request.to_request());
                return;
            }
            let _ = self.runtime.machine.handle_response(token, answer.to_response());
        } else if let Some(ext) = self.extensions.get_mut(usize::from(conn.client - 1)) {
            ext.fatal_seen |= fatal;
            if link.call == Call::ExtensionRegister && status == StatusCode::OK {
                ext.registered = true;
            }
            if let Some(id) = invoke_in(&link.state) {
                let again = ext.closed.contains(&id);
                ext.holding = Some(id);
                self.flag_if(again, Violation::InvokeTwice);
                if self.bug == Some(Bug::RepeatInvoke) && conn.client == 1 {
                    self.platform.delivery_failed(conn.id());
                }
                if self.bug == Some(Bug::PhantomInvokeNext) && conn.client == 1 {
                    if let Some(ext_id) = self.extensions[0].machine.extension_id().cloned() {
                        self.faulty_phantom_next(&ext_id);
                    }
                }
            }
            let ext = &mut self.extensions[usize::from(conn.client - 1)];
            let _ = ext.machine.handle_response(token, answer.to_response());
        }
    }

    /// The request on `link` failed in transit: the client's machine learns
    /// of it. A failed send counts towards the retry properties, except a
    /// streamed response, which is never resent.
    pub(super) fn transport_error(&mut self, conn: Conn, link: &Link) {
        if conn.token == BUG_TOKEN {
            return;
        }
        if !is_streamed(&link.request.to_request()) {
            *self.failures.entry(conn).or_default() += 1;
            self.backing_off.insert(conn);
        }
        let error = TransportError::new(TransportErrorKind::Reset, "simulated");
        let token = Token(conn.token);
        if conn.client == RUNTIME {
            let _ = self.runtime.machine.handle_transport_error(token, error, logical_now());
        } else if let Some(ext) = self.extensions.get_mut(usize::from(conn.client - 1)) {
            let _ = ext.machine.handle_transport_error(token, error, logical_now());
        }
        if self.bug == Some(Bug::NoBackoff) {
            self.stage(conn.client, conn.token, link.call, &link.request.to_request());
        }
    }

    /// `client`'s back-off timer fires.
    pub(super) fn fire_timer(&mut self, client: u8) {
        self.backing_off.retain(|c| c.client != client);
        if client == RUNTIME {
            if let Some(due) = self.runtime.machine.poll_timeout() {
                self.runtime.machine.handle_timeout(due);
            }
        } else if let Some(ext) = self.extensions.get_mut(usize::from(client - 1)) {
            if let Some(due) = ext.machine.poll_timeout() {
                ext.machine.handle_timeout(due);
            }
        }
    }

    /// `client` stopped after running out of retries: some connection of
    /// its must have failed one send more than the retries allow.
    pub(super) fn check_gave_up(&mut self, client: u8) {
        let used_up = self.failures.iter().any(|(c, &n)| c.client == client && n == SIM_RETRIES + 1);
        self.flag_if(!used_up, Violation::GaveUpEarly);
        self.retries_ran_out = true;
        self.disrupted = true;
    }
}

/// The request id of an INVOKE event answer carried by `state`, if any.
pub(super) fn invoke_in(state: &LinkState) -> Option<RequestId> {
    let LinkState::Incoming(answer) = state else { return None };
    if answer.status() != StatusCode::OK {
        return None;
    }
    match LifecycleEvent::decode(&answer.to_response().into_body()) {
        Ok(LifecycleEvent::Invoke(invoke)) => RequestId::new(&invoke.request_id).ok(),
        _ => None,
    }
}

pub(super) fn is_streamed(request: &http::Request<Bytes>) -> bool {
    request.headers().get(headers::RESPONSE_MODE).is_some_and(|m| m.as_bytes() == b"streaming")
}
