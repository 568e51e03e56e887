//! The composed system: the real client machines, the real platform machine,
//! and a network that may lose, fail or delay any message.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;

use super::config::{Bug, Faults, Hosts, SimConfig};
use super::wire::{WireRequest, WireResponse};
use crate::extension::{
    requests as ext_requests, EventType, ExtensionConfig, ExtensionMachine, ShutdownReason,
};
use crate::platform::{ConnId, NewInvocation, PlatformConfig, PlatformMachine};
use crate::runtime::{Mode, RuntimeConfig, RuntimeMachine};
use crate::RetryPolicy;
use crate::{ApiAddress, Call, DeadlineMs, ErrorReport, ExtensionId, ExtensionName, InvocationId, RequestId};

/// The token a faulty client uses for the requests its bug makes up.
pub(super) const BUG_TOKEN: u16 = u16::MAX;
pub(super) const RUNTIME: u8 = 0;
const ADDRESS: &str = "127.0.0.1:9001";
pub(super) const DEADLINE: DeadlineMs = DeadlineMs(60_000);
/// Retries the simulated clients allow: fewer than production's, so that two
/// faults on one request use them up within the default bounds.
pub(super) const SIM_RETRIES: u8 = 1;
/// Expired ids the simulated platform promises to remember: one, so that
/// the bound itself is explored.
pub(super) const REMEMBERED_EXPIRED: usize = 1;

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
    pub(super) fn id(self) -> ConnId {
        ConnId(u64::from(self.client) << 16 | u64::from(self.token))
    }

    pub(super) fn from_id(id: ConnId) -> Self {
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
    /// A client's back-off timer fires (at any later point: timers may be late).
    Timer(u8),
    /// The platform shuts down after every invocation ended.
    CleanShutdown,
    /// Fault: the staged request is lost.
    LoseRequest(Conn),
    /// Fault: the staged request is answered `500`.
    Answer500(Conn),
    /// Fault: the staged answer is lost after it was written.
    DropAnswer(Conn),
    /// Fault: writing the staged answer fails, and the platform sees it.
    BreakDelivery(Conn),
    /// Fault: the parked poll's connection drops.
    Disconnect(Conn),
    /// Fault: the invocation times out.
    Expire(RequestId),
    /// Fault: the platform shuts down while invocations are unfinished.
    EarlyShutdown,
    /// The platform delivers its undelivered telemetry records to the
    /// forwarding extension's listener.
    DeliverTelemetry,
    /// The sink takes the forwarder's batch.
    SinkTakes,
    /// The forwarder's earliest wait runs out (its deadline, flush budget or
    /// shutdown budget).
    ForwarderTimer,
}

/// A property violation observed while stepping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Violation {
    /// A client answered an invocation whose answer it had already seen
    /// accepted or refused.
    AnsweredTwice,
    /// The runtime machine accepted a host's second answer to one invocation.
    SecondAnswerTaken,
    /// The platform recorded two outcomes for one invocation.
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
    /// In classic mode an invocation went to the runtime while an INVOKE
    /// extension had not called `next` after the previous one.
    EagerInvocation,
    /// SHUTDOWN went to an extension that did not register for it.
    ShutdownToUnregistered,
    /// A late answer for an id the platform promises to remember as expired
    /// did not get `410`.
    ExpiredNotGone,
    /// A failed request was resent before its back-off timer fired.
    BackoffSkipped,
    /// An extension got an INVOKE it had already closed with `next`.
    InvokeTwice,
    /// A request was sent again after its retries were used up.
    RetriedTooOften,
    /// A client gave up before its retries were used up.
    GaveUpEarly,
    /// The environment froze while a record delivered before the
    /// forwarder's `next` (or the invocation's own `platform.runtimeDone`)
    /// was not at the sink.
    RecordLostAtFreeze,
    /// The forwarder exited after SHUTDOWN while a record the platform
    /// produced was not at the sink.
    RecordLostAtShutdown,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum LinkState {
    Outgoing,
    Parked,
    Incoming(WireResponse),
    /// An answer the network made up (a `500` from something in between):
    /// the platform wrote nothing, so it cannot see a failed write of it.
    Injected(WireResponse),
    /// Pipelined behind a request whose answer closed the connection: the
    /// server never read it.
    Unserved,
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
    /// Stopped with the environment (it did not register for SHUTDOWN).
    pub(super) killed: bool,
    /// The INVOKE it received and has not closed with a `next` yet.
    pub(super) holding: Option<RequestId>,
    /// INVOKEs it received and closed.
    pub(super) closed: BTreeSet<RequestId>,
}

impl ExtensionClient {
    pub(super) fn stopped(&self) -> bool {
        self.killed || self.machine.exit_reason().is_some()
    }

    pub(super) fn wants_shutdown(&self) -> bool {
        self.machine.registered_events().contains(&EventType::Shutdown)
    }
}

/// The whole simulated system. Cloning, hashing and comparing it is what
/// lets the model checker explore every interleaving.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct World {
    pub(super) platform: PlatformMachine,
    pub(super) runtime: RuntimeClient,
    pub(super) extensions: Vec<ExtensionClient>,
    pub(super) links: BTreeMap<Conn, Link>,
    /// A `next` pipelined behind the link of the same connection; it takes
    /// that link's place once the link's answer is delivered.
    pub(super) behind: BTreeMap<Conn, Link>,
    pub(super) hosts: Hosts,
    pub(super) bug: Option<Bug>,
    pub(super) faults_used: u8,
    pub(super) disrupted: bool,
    pub(super) shutdown: bool,
    pub(super) shutdown_during_invocation: bool,
    pub(super) two_in_flight: bool,
    pub(super) fatal_exit: bool,
    pub(super) redelivered: bool,
    pub(super) retries_ran_out: bool,
    pub(super) late_answer_gone: bool,
    /// A `next` pipelined behind an answer was answered with an invocation.
    pub(super) pipelined_invocation: bool,
    /// A pipelined `next` the server never read was sent again.
    pub(super) unserved_resent: bool,
    /// Answers (responses and error reports) the platform recorded.
    pub(super) answers: BTreeMap<RequestId, u8>,
    /// Outcomes of any kind the platform recorded.
    pub(super) outcomes: BTreeMap<RequestId, u8>,
    /// Delivered invocations the platform declared over (report due).
    pub(super) ended: BTreeMap<RequestId, u8>,
    pub(super) issued_requests: BTreeSet<RequestId>,
    pub(super) issued_extensions: Vec<ExtensionId>,
    /// The newest expired ids, as many as the platform promises to remember.
    pub(super) expired: VecDeque<RequestId>,
    /// Failed sends in a row per connection, since its last answer.
    pub(super) failures: BTreeMap<Conn, u8>,
    /// Connections whose last send failed and whose client's timer has not
    /// fired since.
    pub(super) backing_off: BTreeSet<Conn>,
    /// Extensions busy with INVOKE when shutdown started.
    pub(super) busy_at_shutdown: BTreeSet<u8>,
    pub(super) violations: BTreeSet<Violation>,
    pub(super) telemetry: super::telemetry::Telemetry,
}

pub(super) fn address() -> Option<ApiAddress> {
    ApiAddress::parse(ADDRESS).ok()
}

fn retry() -> RetryPolicy {
    RetryPolicy {
        max_retries: SIM_RETRIES,
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
            remembered_expired: REMEMBERED_EXPIRED,
            ..PlatformConfig::new("sim")
        };
        let mut platform = PlatformMachine::new(platform_config);
        for n in 1..=config.invocations {
            platform.invoke(new_invocation(n)?).ok()?;
        }
        let mut extensions = Vec::new();
        for (index, name) in names.iter().enumerate() {
            let ext_config = extension_config(config, &address, index, name)?;
            extensions.push(ExtensionClient {
                machine: ExtensionMachine::new(ext_config),
                registered: false,
                sent_next: false,
                fatal_seen: false,
                got_shutdown: false,
                killed: false,
                holding: None,
                closed: BTreeSet::new(),
            });
        }
        let runtime_config = RuntimeConfig {
            address: address.clone(),
            mode: config.mode,
            retry: retry(),
            pipelining: config.hosts.pipelining,
            trace_id_env: false,
        };
        let runtime = if config.hosts.runtime_init_error {
            RuntimeMachine::init_failed(runtime_config, ErrorReport::new("Runtime.Init", "init failed"))
        } else {
            RuntimeMachine::new(runtime_config)
        };
        let mut world = Self {
            platform,
            runtime: RuntimeClient {
                machine: runtime,
                started: false,
                killed: false,
                handling: BTreeSet::new(),
                open: BTreeSet::new(),
                fatal_seen: false,
                sent_next: false,
            },
            extensions,
            links: BTreeMap::new(),
            behind: BTreeMap::new(),
            hosts: config.hosts,
            bug: config.bug,
            faults_used: 0,
            disrupted: false,
            shutdown: false,
            shutdown_during_invocation: false,
            two_in_flight: false,
            fatal_exit: false,
            redelivered: false,
            retries_ran_out: false,
            late_answer_gone: false,
            pipelined_invocation: false,
            unserved_resent: false,
            answers: BTreeMap::new(),
            outcomes: BTreeMap::new(),
            ended: BTreeMap::new(),
            issued_requests: BTreeSet::new(),
            issued_extensions: Vec::new(),
            expired: VecDeque::new(),
            failures: BTreeMap::new(),
            backing_off: BTreeSet::new(),
            busy_at_shutdown: BTreeSet::new(),
            violations: BTreeSet::new(),
            telemetry: super::telemetry::Telemetry {
                forwarder: (config.forward && config.extensions > 0).then(super::telemetry::forwarder),
                ..Default::default()
            },
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
                LinkState::Incoming(_) | LinkState::Injected(_) => {
                    actions.push(Action::Deliver(conn));
                    if faults.drop_answer {
                        actions.push(Action::DropAnswer(conn));
                    }
                    let written = matches!(link.state, LinkState::Incoming(_));
                    if faults.break_delivery && written && conn.token != BUG_TOKEN {
                        actions.push(Action::BreakDelivery(conn));
                    }
                }
                LinkState::Parked => {
                    if faults.disconnect {
                        actions.push(Action::Disconnect(conn));
                    }
                }
                // Only ever behind another link.
                LinkState::Unserved => {}
            }
        }
        if self.runtime_alive() {
            actions.extend(self.runtime.handling.iter().cloned().map(Action::Handle));
            if self.runtime.machine.poll_timeout().is_some() {
                actions.push(Action::Timer(RUNTIME));
            }
        }
        for (index, extension) in self.extensions.iter().enumerate() {
            if !extension.stopped() && extension.machine.poll_timeout().is_some() {
                actions.push(Action::Timer(client_of(index)));
            }
        }
        if !self.shutdown && self.platform.is_initialized() {
            if self.outcomes.len() == usize::from(config.invocations) {
                actions.push(Action::CleanShutdown);
            } else if faults.early_shutdown {
                actions.push(Action::EarlyShutdown);
            }
        }
        if faults.expire {
            actions.extend(self.platform.unanswered_invocations().cloned().map(Action::Expire));
        }
        if self.can_deliver_telemetry() {
            actions.push(Action::DeliverTelemetry);
        }
        if self.telemetry.batch.is_some() {
            actions.push(Action::SinkTakes);
        }
        let forwarder_waits = self.telemetry.forwarder.as_ref().is_some_and(|f| f.poll_timeout().is_some());
        if forwarder_waits && !self.extensions[0].stopped() {
            actions.push(Action::ForwarderTimer);
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
            Action::Deliver(conn) => {
                self.deliver(*conn);
                self.promote_behind(*conn);
            }
            Action::Handle(id) => self.handle(id),
            Action::Timer(client) => self.fire_timer(*client),
            Action::CleanShutdown => self.start_shutdown(ShutdownReason::Spindown),
            Action::LoseRequest(conn) => {
                self.faults_used += 1;
                // Whatever was pipelined behind it is lost with it.
                self.behind.remove(conn);
                self.lose_request(*conn);
            }
            Action::DropAnswer(conn) | Action::Disconnect(conn) | Action::BreakDelivery(conn) => {
                self.faults_used += 1;
                // An answer lost after it was written is the one network
                // fault the platform cannot see: it may lose work by design.
                self.disrupted |= matches!(action, Action::DropAnswer(_));
                let Some(link) = self.links.remove(conn) else { return false };
                if self.behind.remove(conn).is_some() {
                    // The connection is gone: a poll pipelined behind the
                    // answer is forgotten when the platform sees it close.
                    self.platform.connection_closed(conn.id());
                }
                match action {
                    Action::Disconnect(_) => {
                        // A server may learn of it when the connection closes
                        // or only when writing to it fails: tell both.
                        self.platform.connection_closed(conn.id());
                        self.platform.delivery_failed(conn.id());
                    }
                    Action::BreakDelivery(_) => {
                        self.redelivered |=
                            link.call == Call::RuntimeNext || link.call == Call::ExtensionNext;
                        self.platform.delivery_failed(conn.id());
                        self.platform.connection_closed(conn.id());
                    }
                    _ => {}
                }
                self.pump_platform();
                self.transport_error(*conn, &link);
            }
            Action::Answer500(conn) => {
                self.faults_used += 1;
                self.disrupted = true;
                // The server answers 500 and closes: nothing behind is read.
                self.behind.remove(conn);
                if let Some(link) = self.links.get_mut(conn) {
                    link.state = LinkState::Injected(WireResponse::error(
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
            Action::DeliverTelemetry => self.deliver_telemetry(),
            Action::SinkTakes => self.sink_takes(),
            Action::ForwarderTimer => self.fire_forwarder_timer(),
        }
        self.settle_all(config);
        true
    }

    pub(super) fn runtime_alive(&self) -> bool {
        self.runtime.started && !self.runtime.killed && self.runtime.machine.exit_reason().is_none()
    }
}

/// The client number of extension `index`.
pub(super) fn client_of(index: usize) -> u8 {
    u8::try_from(index + 1).unwrap_or(u8::MAX)
}

fn new_invocation(n: u8) -> Option<NewInvocation> {
    Some(NewInvocation {
        request_id: RequestId::new(&format!("r{n}")).ok()?,
        payload: Bytes::from(format!("{{\"n\":{n}}}")),
        deadline: DEADLINE,
        invoked_function_arn: "arn:aws:lambda:us-east-1:000000000000:function:sim".into(),
        trace_id: None,
        client_context: None,
        cognito_identity: None,
        tenant_id: None,
        invocation_id: InvocationId::new(&format!("nonce-{n}")).ok(),
    })
}

/// Extension `index`'s configuration. Every extension asks for INVOKE and
/// SHUTDOWN (under Managed Instances the machine itself keeps SHUTDOWN
/// only), except an INVOKE-only last one when the hosts say so.
fn extension_config(
    config: &SimConfig,
    address: &ApiAddress,
    index: usize,
    name: &str,
) -> Option<ExtensionConfig> {
    let invoke_only = config.hosts.invoke_only_extension && index + 1 == usize::from(config.extensions);
    let events: &[EventType] =
        if invoke_only { &[EventType::Invoke] } else { &[EventType::Invoke, EventType::Shutdown] };
    let first = index == 0;
    let subscription = if first && config.hosts.refused_subscription {
        Some(super::hosts::sim_subscription("http://127.0.0.1:4243/telemetry"))
    } else if first && config.subscribe {
        Some(super::hosts::sim_subscription("http://sandbox.localdomain:4243/telemetry"))
    } else {
        None
    };
    Some(ExtensionConfig {
        retry: retry(),
        managed_instances: matches!(config.mode, Mode::Concurrent { .. }),
        auto_ready: !(first && config.hosts.extension_init_error),
        subscription,
        ..ExtensionConfig::new(address.clone(), ExtensionName::new(name).ok()?, events)
    })
}

/// The simulation's clock: always the same instant, so that a machine's
/// state (its back-off deadlines) does not depend on when the model checker
/// explored it. Timers fire as a step of their own (see `hosts`).
pub(super) fn logical_now() -> std::time::Instant {
    static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(std::time::Instant::now)
}
