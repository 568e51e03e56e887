//! The composed system: the real client machines, the real platform machine,
//! and a network that may lose, fail or delay any message.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;

use super::config::{Bug, Faults, SimConfig};
use super::wire::{WireRequest, WireResponse};
use crate::extension::{
    requests as ext_requests, EventType, ExtensionConfig, ExtensionMachine, ShutdownReason,
};
use crate::platform::{
    ConnId, NewInvocation, Outcome, PlatformConfig, PlatformEvent, PlatformMachine, Route,
};
use crate::runtime::{Mode, RuntimeConfig, RuntimeMachine};
use crate::{ApiAddress, Call, DeadlineMs, ErrorReport, ExtensionId, ExtensionName, InvocationId, RequestId};
use crate::{RetryPolicy, Token, TransportError, TransportErrorKind};

/// The token a faulty client uses for the requests its bug makes up.
pub(super) const BUG_TOKEN: u16 = u16::MAX;
pub(super) const RUNTIME: u8 = 0;
const ADDRESS: &str = "127.0.0.1:9001";
const DEADLINE: DeadlineMs = DeadlineMs(60_000);

/// One client connection: the client (0 is the runtime, `n` the n-th
/// extension) and the machine's token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Conn {
    /// The client.
    pub client: u8,
    /// The connection within it.
    pub token: u16,
}

impl Conn {
    fn id(self) -> ConnId {
        ConnId(u64::from(self.client) << 16 | u64::from(self.token))
    }

    fn from_id(id: ConnId) -> Self {
        Self { client: (id.0 >> 16) as u8, token: (id.0 & 0xffff) as u16 }
    }
}

/// A step of the simulation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Action {
    /// The request staged on the connection reaches the platform.
    Send(Conn),
    /// The answer staged on the connection reaches the client.
    Deliver(Conn),
    /// The runtime's handler finishes the invocation and it is answered.
    Handle(RequestId),
    /// The platform shuts down after every invocation ended.
    CleanShutdown,
    /// Fault: the staged request is lost.
    LoseRequest(Conn),
    /// Fault: the staged request is answered `500`.
    Answer500(Conn),
    /// Fault: the staged answer is lost.
    DropAnswer(Conn),
    /// Fault: the parked poll's connection drops.
    Disconnect(Conn),
    /// Fault: the invocation times out.
    Expire(RequestId),
    /// Fault: the platform shuts down while invocations are unfinished.
    EarlyShutdown,
}

/// A property violation observed while stepping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Violation {
    /// A client answered an invocation whose answer it had already seen
    /// accepted or refused.
    AnsweredTwice,
    /// The platform recorded two answers for one invocation.
    DuplicateOutcome,
    /// A client produced a request after it exited.
    RequestAfterExit,
    /// A client produced a request after it received a fatal status.
    RequestAfterFatal,
    /// An extension polled before a successful register.
    PollBeforeRegister,
    /// A request carried a request or extension id the platform never issued.
    UnissuedId,
    /// Init completed before the runtime and every extension called `next`.
    EarlyInit,
    /// A client had two requests on one connection at once.
    TwoRequestsOnOneConnection,
    /// A machine refused a call its host was allowed to make.
    HostRefused,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum LinkState {
    Outgoing,
    Parked,
    Incoming(WireResponse),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Link {
    pub(super) call: Call,
    pub(super) request: WireRequest,
    pub(super) state: LinkState,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct RuntimeClient {
    pub(super) machine: RuntimeMachine,
    pub(super) started: bool,
    pub(super) killed: bool,
    /// Invocations the handler is working on.
    pub(super) handling: BTreeSet<RequestId>,
    /// Deliveries whose answer has not been accepted or refused yet.
    pub(super) open: BTreeSet<RequestId>,
    pub(super) fatal_seen: bool,
    pub(super) sent_next: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct ExtensionClient {
    pub(super) machine: ExtensionMachine,
    pub(super) registered: bool,
    pub(super) sent_next: bool,
    pub(super) fatal_seen: bool,
    pub(super) got_shutdown: bool,
}

/// The whole simulated system. Cloning, hashing and comparing it is what
/// lets the model checker explore every interleaving.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct World {
    pub(super) platform: PlatformMachine,
    pub(super) runtime: RuntimeClient,
    pub(super) extensions: Vec<ExtensionClient>,
    pub(super) links: BTreeMap<Conn, Link>,
    pub(super) faults_used: u8,
    pub(super) disrupted: bool,
    pub(super) shutdown: bool,
    pub(super) shutdown_during_invocation: bool,
    pub(super) two_in_flight: bool,
    pub(super) fatal_exit: bool,
    pub(super) answers: BTreeMap<RequestId, u8>,
    pub(super) completed: BTreeSet<RequestId>,
    pub(super) issued_requests: BTreeSet<RequestId>,
    pub(super) issued_extensions: Vec<ExtensionId>,
    pub(super) violations: BTreeSet<Violation>,
}

pub(super) fn address() -> Option<ApiAddress> {
    ApiAddress::parse(ADDRESS).ok()
}

fn retry() -> RetryPolicy {
    RetryPolicy {
        max_retries: 2,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(1),
    }
}

impl World {
    /// The initial state for `config`, or `None` if the configuration cannot
    /// be built (more than 254 extensions).
    pub fn new(config: &SimConfig) -> Option<Self> {
        let address = address()?;
        let names: Vec<String> = (1..=config.extensions).map(|n| format!("ext{n}")).collect();
        let platform_config = PlatformConfig {
            mode: config.mode,
            external_extensions: names.clone(),
            ..PlatformConfig::new("sim")
        };
        let mut platform = PlatformMachine::new(platform_config);
        for n in 1..=config.invocations {
            let invocation = NewInvocation {
                request_id: RequestId::new(&format!("r{n}")).ok()?,
                payload: Bytes::from(format!("{{\"n\":{n}}}")),
                deadline: DEADLINE,
                invoked_function_arn: "arn:aws:lambda:us-east-1:000000000000:function:sim".into(),
                trace_id: None,
                client_context: None,
                cognito_identity: None,
                tenant_id: None,
                invocation_id: InvocationId::new(&format!("nonce-{n}")).ok(),
            };
            platform.invoke(invocation).ok()?;
        }
        // Every extension asks for both events; under Managed Instances the
        // machine itself registers for SHUTDOWN only.
        let events = [EventType::Invoke, EventType::Shutdown];
        let managed_instances = matches!(config.mode, Mode::Concurrent { .. });
        let mut extensions = Vec::new();
        for (index, name) in names.iter().enumerate() {
            let name = ExtensionName::new(name).ok()?;
            let ext_config = ExtensionConfig {
                retry: retry(),
                managed_instances,
                subscription: (config.subscribe && index == 0).then(super::hosts::sim_subscription),
                ..ExtensionConfig::new(address.clone(), name, &events)
            };
            extensions.push(ExtensionClient {
                machine: ExtensionMachine::new(ext_config),
                registered: false,
                sent_next: false,
                fatal_seen: false,
                got_shutdown: false,
            });
        }
        let runtime_config = RuntimeConfig { address: address.clone(), mode: config.mode, retry: retry() };
        let mut world = Self {
            platform,
            runtime: RuntimeClient {
                machine: RuntimeMachine::new(runtime_config),
                started: false,
                killed: false,
                handling: BTreeSet::new(),
                open: BTreeSet::new(),
                fatal_seen: false,
                sent_next: false,
            },
            extensions,
            links: BTreeMap::new(),
            faults_used: 0,
            disrupted: false,
            shutdown: false,
            shutdown_during_invocation: false,
            two_in_flight: false,
            fatal_exit: false,
            answers: BTreeMap::new(),
            completed: BTreeSet::new(),
            issued_requests: BTreeSet::new(),
            issued_extensions: Vec::new(),
            violations: BTreeSet::new(),
        };
        if config.bug == Some(Bug::SkipRegister) && config.extensions > 0 {
            let made_up = ExtensionId::new("00000000-0000-4000-8000-000000000001").ok()?;
            let request = ext_requests::next(&address, &made_up).ok()?;
            world.stage(1, BUG_TOKEN, Call::ExtensionNext, &request);
        }
        world.settle_all(config);
        Some(world)
    }

    /// Every action possible in this state, in a fixed order.
    pub fn actions(&self, config: &SimConfig, actions: &mut Vec<Action>) {
        let budget = self.faults_used < config.max_faults;
        let faults = if budget { config.faults } else { Faults::NONE };
        for (&conn, link) in &self.links {
            match link.state {
                LinkState::Outgoing => {
                    actions.push(Action::Send(conn));
                    if faults.lose_request {
                        actions.push(Action::LoseRequest(conn));
                    }
                    if faults.status_500 {
                        actions.push(Action::Answer500(conn));
                    }
                }
                LinkState::Incoming(_) => {
                    actions.push(Action::Deliver(conn));
                    if faults.drop_answer {
                        actions.push(Action::DropAnswer(conn));
                    }
                }
                LinkState::Parked => {
                    if faults.disconnect {
                        actions.push(Action::Disconnect(conn));
                    }
                }
            }
        }
        if self.runtime_alive() {
            actions.extend(self.runtime.handling.iter().cloned().map(Action::Handle));
        }
        if !self.shutdown && self.platform.is_initialized() {
            if self.completed.len() == usize::from(config.invocations) {
                actions.push(Action::CleanShutdown);
            } else if faults.early_shutdown {
                actions.push(Action::EarlyShutdown);
            }
        }
        if faults.expire {
            actions.extend(self.platform.unanswered_invocations().cloned().map(Action::Expire));
        }
    }

    /// Whether no action is possible.
    pub fn is_terminal(&self, config: &SimConfig) -> bool {
        let mut actions = Vec::new();
        self.actions(config, &mut actions);
        actions.is_empty()
    }

    /// Applies `action`. Returns `false` (and changes nothing) when the
    /// action is not possible in this state.
    pub fn step(&mut self, config: &SimConfig, action: &Action) -> bool {
        let mut possible = Vec::new();
        self.actions(config, &mut possible);
        if !possible.contains(action) {
            return false;
        }
        match action {
            Action::Send(conn) => self.send(*conn),
            Action::Deliver(conn) => self.deliver(config, *conn),
            Action::Handle(id) => self.handle(id),
            Action::CleanShutdown => self.start_shutdown(ShutdownReason::Spindown),
            Action::LoseRequest(conn) | Action::DropAnswer(conn) | Action::Disconnect(conn) => {
                self.faults_used += 1;
                if matches!(action, Action::DropAnswer(_)) {
                    self.disrupted = true;
                }
                if matches!(action, Action::Disconnect(_)) {
                    self.platform.connection_closed(conn.id());
                    self.pump_platform();
                }
                self.links.remove(conn);
                self.transport_error(*conn);
            }
            Action::Answer500(conn) => {
                self.faults_used += 1;
                self.disrupted = true;
                if let Some(link) = self.links.get_mut(conn) {
                    link.state = LinkState::Incoming(WireResponse::error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "ServiceException",
                    ));
                }
            }
            Action::Expire(id) => {
                self.faults_used += 1;
                self.disrupted = true;
                self.platform.timeout(id, DEADLINE);
                self.pump_platform();
            }
            Action::EarlyShutdown => {
                self.faults_used += 1;
                self.disrupted = true;
                self.start_shutdown(ShutdownReason::Spindown);
            }
        }
        self.settle_all(config);
        true
    }

    fn runtime_alive(&self) -> bool {
        self.runtime.started && !self.runtime.killed && self.runtime.machine.exit_reason().is_none()
    }

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
            let (exited, fatal_seen) = (ext.machine.exit_reason().is_some(), ext.fatal_seen);
            self.flag_if(exited, Violation::RequestAfterExit);
            self.flag_if(fatal_seen, Violation::RequestAfterFatal);
        }
        self.flag_if(self.links.contains_key(&conn), Violation::TwoRequestsOnOneConnection);
        self.links
            .insert(conn, Link { call, request: WireRequest::capture(request), state: LinkState::Outgoing });
    }

    pub(super) fn flag_if(&mut self, condition: bool, violation: Violation) {
        if condition {
            self.violations.insert(violation);
        }
    }

    fn send(&mut self, conn: Conn) {
        let Some(link) = self.links.get_mut(&conn) else { return };
        link.state = LinkState::Parked;
        let request = link.request.to_request();
        match Route::of(&request) {
            Route::RuntimeNext => self.runtime.sent_next = true,
            Route::RuntimeResponse { request_id } | Route::RuntimeError { request_id } => {
                let issued = RequestId::new(request_id).is_ok_and(|id| self.issued_requests.contains(&id));
                self.flag_if(!issued, Violation::UnissuedId);
            }
            Route::ExtensionNext
            | Route::ExtensionInitError
            | Route::ExtensionExitError
            | Route::Subscribe(_) => {
                let id = request.headers().get(crate::headers::EXTENSION_IDENTIFIER);
                let issued = id.and_then(|v| ExtensionId::from_bytes(v.as_bytes()).ok());
                let issued = issued.is_some_and(|id| self.issued_extensions.contains(&id));
                self.flag_if(!issued, Violation::UnissuedId);
                if let Some(ext) = self.extensions.get_mut(usize::from(conn.client).wrapping_sub(1)) {
                    if Route::of(&request) == Route::ExtensionNext {
                        ext.sent_next = true;
                        let registered = ext.registered;
                        self.flag_if(!registered, Violation::PollBeforeRegister);
                    }
                }
            }
            _ => {}
        }
        self.platform.handle_request(conn.id(), &request);
        self.pump_platform();
    }

    pub(super) fn pump_platform(&mut self) {
        while let Some((id, response)) = self.platform.poll_response() {
            if let Some(link) = self.links.get_mut(&Conn::from_id(id)) {
                if link.state == LinkState::Parked {
                    link.state = LinkState::Incoming(WireResponse::capture(&response));
                }
            }
        }
        while let Some(event) = self.platform.poll_event() {
            match event {
                PlatformEvent::InitComplete => {
                    let everyone = self.runtime.sent_next
                        && self.extensions.iter().filter(|e| e.registered).all(|e| e.sent_next);
                    self.flag_if(!everyone, Violation::EarlyInit);
                }
                PlatformEvent::InvocationStarted { request_id } => {
                    self.issued_requests.insert(request_id);
                }
                PlatformEvent::InvocationCompleted { request_id, outcome } => {
                    if matches!(outcome, Outcome::Response { .. } | Outcome::Error { .. }) {
                        let count = self.answers.entry(request_id.clone()).or_default();
                        *count += 1;
                        let twice = *count > 1;
                        self.flag_if(twice, Violation::DuplicateOutcome);
                    }
                    self.completed.insert(request_id);
                }
                PlatformEvent::ExtensionRegistered { id, .. } => self.issued_extensions.push(id),
                _ => {}
            }
        }
        if self.platform.unanswered_invocations().count() >= 2 {
            self.two_in_flight = true;
        }
        if self.platform.is_shutting_down() {
            self.shutdown = true;
            self.kill_runtime();
        }
    }

    pub(super) fn start_shutdown(&mut self, reason: ShutdownReason) {
        if self.platform.unanswered_invocations().next().is_some() {
            self.shutdown_during_invocation = true;
        }
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

    pub(super) fn close_client(&mut self, client: u8) {
        let conns: Vec<Conn> = self.links.keys().filter(|c| c.client == client).copied().collect();
        for conn in conns {
            self.links.remove(&conn);
            self.platform.connection_closed(conn.id());
        }
    }

    fn deliver(&mut self, config: &SimConfig, conn: Conn) {
        let Some(link) = self.links.remove(&conn) else { return };
        let LinkState::Incoming(answer) = &link.state else { return };
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
        let token = Token(conn.token);
        if conn.client == RUNTIME {
            self.runtime.fatal_seen |= fatal;
            if fatal && config.bug == Some(Bug::IgnoreFatal) && link.call == Call::RuntimeNext {
                self.stage(RUNTIME, conn.token, link.call, &link.request.to_request());
                return;
            }
            let _ = self.runtime.machine.handle_response(token, answer.to_response());
        } else if let Some(ext) = self.extensions.get_mut(usize::from(conn.client - 1)) {
            ext.fatal_seen |= fatal;
            if link.call == Call::ExtensionRegister && status == StatusCode::OK {
                ext.registered = true;
            }
            let _ = ext.machine.handle_response(token, answer.to_response());
        }
    }

    fn transport_error(&mut self, conn: Conn) {
        if conn.token == BUG_TOKEN {
            return;
        }
        let error = TransportError::new(TransportErrorKind::Reset, "simulated");
        let token = Token(conn.token);
        if conn.client == RUNTIME {
            let _ = self.runtime.machine.handle_transport_error(token, error, logical_now());
        } else if let Some(ext) = self.extensions.get_mut(usize::from(conn.client - 1)) {
            let _ = ext.machine.handle_transport_error(token, error, logical_now());
        }
    }

    fn handle(&mut self, id: &RequestId) {
        if !self.runtime.handling.remove(id) {
            return;
        }
        // Odd invocations fail, even ones succeed: both answer kinds are explored.
        let odd = id.as_str().bytes().last().is_some_and(|b| b % 2 == 1);
        let result = if odd {
            self.runtime.machine.respond_error(id, ErrorReport::new("Function.Odd", "odd invocation"))
        } else {
            self.runtime.machine.respond(id, Bytes::from_static(b"\"ok\""))
        };
        self.flag_if(result.is_err(), Violation::HostRefused);
    }

    /// Violations observed so far.
    pub fn violations(&self) -> &BTreeSet<Violation> {
        &self.violations
    }

    /// Whether a fault that may lose an invocation was injected on the way
    /// here: a `500`, a lost answer, a timeout, an early shutdown, or lost
    /// requests that used up a client's retries.
    pub fn disrupted(&self) -> bool {
        self.disrupted
    }

    /// Whether every invocation was answered exactly once.
    pub fn all_answered_once(&self, config: &SimConfig) -> bool {
        self.answers.len() == usize::from(config.invocations) && self.answers.values().all(|&n| n == 1)
    }

    /// Whether shutdown has started.
    pub fn shut_down(&self) -> bool {
        self.shutdown
    }

    /// Whether every client has stopped: the runtime killed, every extension
    /// exited.
    pub fn all_clients_stopped(&self) -> bool {
        self.runtime.killed && self.extensions.iter().all(|e| e.machine.exit_reason().is_some())
    }

    /// Whether every extension that got SHUTDOWN has exited, and the runtime
    /// is gone once shutdown started.
    pub fn shutdown_obeyed(&self) -> bool {
        let extensions_done =
            self.extensions.iter().filter(|e| e.got_shutdown).all(|e| e.machine.exit_reason().is_some());
        extensions_done && (!self.shutdown || self.runtime.killed)
    }

    /// Whether shutdown started while an invocation was unanswered.
    pub fn shutdown_during_invocation(&self) -> bool {
        self.shutdown_during_invocation
    }

    /// Whether two invocations were ever unanswered at once.
    pub fn two_in_flight(&self) -> bool {
        self.two_in_flight
    }

    /// Whether some client stopped on a fatal error.
    pub fn fatal_exit(&self) -> bool {
        self.fatal_exit
    }
}

/// The simulation's clock: always the same instant, so that a machine's
/// state (its back-off deadlines) does not depend on when the model checker
/// explored it. Timers fire as a step of their own (see `hosts`).
pub(super) fn logical_now() -> std::time::Instant {
    static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(std::time::Instant::now)
}
