//! The extension lifecycle (Registered → Ready → Invoking → Shutdown) as a
//! state machine.

use std::collections::VecDeque;

use bytes::Bytes;

use super::error::{ExitReason, ExtensionError, RegisterRejection};
use super::event::{EventType, InvokeEvent, LifecycleEvent, RegisterInfo, ShutdownEvent};
use super::requests;
use crate::address::ApiAddress;
use crate::attempt::{AfterFailure, Attempt};
use crate::exchange::{BodyMode, Call, Outbound, Timer, Token, TransportError};
use crate::headers;
use crate::ids::{ExtensionId, ExtensionName, IdError};
use crate::report::{ErrorReport, ServerError};
use crate::retry::RetryPolicy;
use crate::runtime::ConfigError;
use crate::telemetry::Subscription;

/// The one connection an extension uses.
const TOKEN: Token = Token(0);

/// Settings of an [`ExtensionMachine`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExtensionConfig {
    /// `AWS_LAMBDA_RUNTIME_API`.
    pub address: ApiAddress,
    /// `Lambda-Extension-Name`: an external extension's file name.
    pub name: ExtensionName,
    /// Events to receive; empty for an internal extension that registers only
    /// so that the runtime gets SIGTERM.
    pub events: Vec<EventType>,
    /// Ask for `accountId` in the register answer.
    pub accept_account_id: bool,
    /// What to do when an exchange fails.
    pub retry: RetryPolicy,
    /// The environment runs under Lambda Managed Instances
    /// (`AWS_LAMBDA_INITIALIZATION_TYPE=lambda-managed-instances`). There an
    /// extension may register for SHUTDOWN only, and a Telemetry API
    /// subscription must use schema [`Subscription::MANAGED_INSTANCES_SCHEMA`];
    /// the machine applies both rules.
    pub managed_instances: bool,
}

/// `AWS_LAMBDA_INITIALIZATION_TYPE` under Lambda Managed Instances.
pub const MANAGED_INSTANCES_INITIALIZATION: &str = "lambda-managed-instances";

impl ExtensionConfig {
    /// A config for `events` with the default retry policy, outside Managed
    /// Instances.
    pub fn new(address: ApiAddress, name: ExtensionName, events: &[EventType]) -> Self {
        Self {
            address,
            name,
            events: events.to_vec(),
            accept_account_id: false,
            retry: RetryPolicy::default(),
            managed_instances: false,
        }
    }

    /// The config for the values of `AWS_LAMBDA_RUNTIME_API` and
    /// `AWS_LAMBDA_INITIALIZATION_TYPE` (`None` when unset). Drivers read the
    /// environment; core only parses.
    pub fn from_env_values(
        api: Option<&str>,
        initialization_type: Option<&str>,
        name: ExtensionName,
        events: &[EventType],
    ) -> Result<Self, ConfigError> {
        let address = ApiAddress::parse(api.ok_or(ConfigError::MissingApi)?)?;
        let managed_instances = initialization_type.map(str::trim) == Some(MANAGED_INSTANCES_INITIALIZATION);
        Ok(Self { managed_instances, ..Self::new(address, name, events) })
    }
}

/// What the extension machine tells its host.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ExtensionEvent {
    /// Registered. Subscribe now if wanted, then call
    /// [`ready`](ExtensionMachine::ready) (or report an init error).
    Registered(RegisterInfo),
    /// The subscription was accepted.
    Subscribed,
    /// The subscription was refused (`4xx`, or a `2xx` that says the API is
    /// not supported). The extension may go on without it.
    SubscriptionRejected {
        /// The HTTP status.
        status: u16,
        /// The decoded error body.
        server: ServerError,
    },
    /// An invocation started. Call [`event_done`](ExtensionMachine::event_done)
    /// when the extension has done its work for it.
    Invoke(InvokeEvent),
    /// An event type this version does not know; call
    /// [`event_done`](ExtensionMachine::event_done) to go on.
    Unknown {
        /// `eventType` as sent.
        event_type: String,
        /// The raw body.
        body: Bytes,
    },
    /// The environment shuts down. Clean up before the deadline, then call
    /// [`exit`](ExtensionMachine::exit) or [`exit_error`](ExtensionMachine::exit_error).
    Shutdown(ShutdownEvent),
    /// Events the extension asked for that this environment does not offer
    /// (INVOKE under Managed Instances). The machine registered without
    /// them; emitted once, before [`Registered`](Self::Registered).
    EventsUnavailable {
        /// The events left out.
        events: Vec<EventType>,
    },
    /// The machine stopped; the process should exit. Emitted once.
    Exit(ExitReason),
}

/// The client side of the Extensions API, for one extension.
///
/// Lifecycle: register → ([`subscribe`](Self::subscribe))* → [`ready`](Self::ready)
/// (the first `event/next`, which tells the platform init is done) →
/// INVOKE events, each closed by [`event_done`](Self::event_done) → SHUTDOWN →
/// [`exit`](Self::exit). Outcomes by status:
///
/// | call | status | outcome |
/// |---|---|---|
/// | register | 2xx with a valid identifier | [`ExtensionEvent::Registered`] |
/// | register | 2xx without one | fatal [`ExtensionError::BadIdentifier`] |
/// | register | 4xx | fatal [`ExtensionError::RegisterRejected`] |
/// | subscribe | 2xx | [`ExtensionEvent::Subscribed`] (or `SubscriptionRejected` for `*.NotSupported`) |
/// | subscribe | 4xx (403 included: a subscription is optional) | [`ExtensionEvent::SubscriptionRejected`], still registered |
/// | event/next | 200 | the event; an unreadable body is fatal |
/// | init/exit error | 2xx | exit |
/// | anything else | | fatal [`ExtensionError::Status`] |
/// | any | transport error | retry after a [`Timer`] per [`RetryPolicy`], then fatal |
///
/// Under Managed Instances ([`ExtensionConfig::managed_instances`]) INVOKE is
/// left out of the registration ([`ExtensionEvent::EventsUnavailable`]) and a
/// Telemetry API subscription is sent with schema
/// [`Subscription::MANAGED_INSTANCES_SCHEMA`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExtensionMachine {
    address: ApiAddress,
    name: ExtensionName,
    events_wanted: Vec<EventType>,
    accept_account_id: bool,
    retry: RetryPolicy,
    managed_instances: bool,
    id: Option<ExtensionId>,
    phase: Phase,
    events: VecDeque<ExtensionEvent>,
    exit: Option<ExitReason>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Phase {
    /// A request to send, in flight or backing off.
    Busy(Work, Attempt),
    /// Registered, init not finished: subscribe, ready or init error.
    Registered,
    /// The host is handling an event.
    Handling,
    /// SHUTDOWN delivered.
    ShuttingDown,
    /// Stopped.
    Exited,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Work {
    Register,
    Subscribe(Subscription),
    Next,
    InitError(ErrorReport),
    ExitError(ErrorReport),
}

impl Work {
    fn call(&self) -> Call {
        match self {
            Self::Register => Call::ExtensionRegister,
            Self::Subscribe(_) => Call::Subscribe,
            Self::Next => Call::ExtensionNext,
            Self::InitError(_) => Call::ExtensionInitError,
            Self::ExitError(_) => Call::ExtensionExitError,
        }
    }
}

impl ExtensionMachine {
    /// A machine whose first request is register.
    pub fn new(config: ExtensionConfig) -> Self {
        let mut events = VecDeque::new();
        let mut events_wanted = config.events;
        if config.managed_instances && events_wanted.contains(&EventType::Invoke) {
            events_wanted.retain(|e| *e != EventType::Invoke);
            events.push_back(ExtensionEvent::EventsUnavailable { events: vec![EventType::Invoke] });
        }
        Self {
            address: config.address,
            name: config.name,
            events_wanted,
            accept_account_id: config.accept_account_id,
            retry: config.retry,
            managed_instances: config.managed_instances,
            id: None,
            phase: Phase::Busy(Work::Register, Attempt::FRESH),
            events,
            exit: None,
        }
    }

    /// The events the extension registers (or registered) for.
    pub fn registered_events(&self) -> &[EventType] {
        &self.events_wanted
    }

    /// The identifier the platform issued, once registered.
    pub fn extension_id(&self) -> Option<&ExtensionId> {
        self.id.as_ref()
    }

    /// Why the machine stopped, once it has.
    pub fn exit_reason(&self) -> Option<&ExitReason> {
        self.exit.as_ref()
    }

    /// The next request to send; `None` while waiting for the host or the
    /// platform, and for good once exited.
    pub fn poll_request(&mut self) -> Option<Outbound> {
        let Phase::Busy(work, attempt) = &self.phase else {
            return None;
        };
        if !attempt.is_queued() {
            return None;
        }
        match self.build(work) {
            Ok(request) => {
                let call = work.call();
                if let Phase::Busy(_, attempt) = &mut self.phase {
                    attempt.sent();
                }
                Some(Outbound { token: TOKEN, call, body: BodyMode::Buffered, request_id: None, request })
            }
            Err(error) => {
                self.fail(error);
                None
            }
        }
    }

    fn build(&self, work: &Work) -> Result<http::Request<Bytes>, ExtensionError> {
        let address = &self.address;
        // Every call but register needs the identifier, which exists in every
        // phase after register; its absence is reported, not assumed away.
        let id = || self.id.as_ref().ok_or(ExtensionError::BadIdentifier(None));
        Ok(match work {
            Work::Register => {
                requests::register(address, &self.name, &self.events_wanted, self.accept_account_id)?
            }
            Work::Subscribe(subscription) if self.managed_instances => subscription
                .clone()
                .with_schema_version(Subscription::MANAGED_INSTANCES_SCHEMA)
                .request(address, id()?)?,
            Work::Subscribe(subscription) => subscription.request(address, id()?)?,
            Work::Next => requests::next(address, id()?)?,
            Work::InitError(report) => requests::init_error(address, id()?, report)?,
            Work::ExitError(report) => requests::exit_error(address, id()?, report)?,
        })
    }

    /// The back-off the driver must wait out before calling
    /// [`handle_timeout`](Self::handle_timeout). Each timer is returned once.
    pub fn poll_timeout(&mut self) -> Option<Timer> {
        match &mut self.phase {
            Phase::Busy(_, attempt) => attempt.poll_timer(TOKEN, &self.retry),
            _ => None,
        }
    }

    /// The back-off elapsed: the request is queued again.
    pub fn handle_timeout(&mut self, token: Token) -> Result<(), ExtensionError> {
        self.check_running()?;
        match &mut self.phase {
            Phase::Busy(_, attempt) if token == TOKEN => match attempt.timer_elapsed() {
                true => Ok(()),
                false => Err(ExtensionError::NoTimer(token)),
            },
            _ => Err(ExtensionError::NoTimer(token)),
        }
    }

    /// Whether [`poll_event`](Self::poll_event) has something to return.
    pub fn has_event(&self) -> bool {
        !self.events.is_empty()
    }

    /// The next event for the host, if any.
    pub fn poll_event(&mut self) -> Option<ExtensionEvent> {
        self.events.pop_front()
    }

    /// Feeds the platform's answer to the request in flight. Returns the fatal
    /// error if the answer stopped the machine.
    pub fn handle_response(
        &mut self,
        token: Token,
        response: http::Response<Bytes>,
    ) -> Result<(), ExtensionError> {
        self.check_running()?;
        let work = self.take_in_flight(token)?;
        let status = response.status();
        let call = work.call();
        match work {
            Work::Register if status.is_success() => self.registered(&response),
            Work::Register if status.is_client_error() => {
                let server = ServerError::from_body(response.body());
                Err(self.fail(ExtensionError::RegisterRejected {
                    status: status.as_u16(),
                    reason: RegisterRejection::from_server(&server),
                    server,
                }))
            }
            Work::Subscribe(_) if status.is_success() || status.is_client_error() => {
                let server = ServerError::from_body(response.body());
                let unsupported = server.error_type.as_deref().is_some_and(|t| t.ends_with(".NotSupported"));
                self.events.push_back(if status.is_success() && !unsupported {
                    ExtensionEvent::Subscribed
                } else {
                    ExtensionEvent::SubscriptionRejected { status: status.as_u16(), server }
                });
                self.phase = Phase::Registered;
                Ok(())
            }
            Work::Next if status == 200 => self.deliver(response.body()),
            Work::InitError(_) if status.is_success() => {
                self.exit_with(ExitReason::InitErrorReported);
                Ok(())
            }
            Work::ExitError(_) if status.is_success() => {
                self.exit_with(ExitReason::ExitErrorReported);
                Ok(())
            }
            _ => Err(self.fail(ExtensionError::Status {
                call,
                status: status.as_u16(),
                server: ServerError::from_body(response.body()),
            })),
        }
    }

    fn registered(&mut self, response: &http::Response<Bytes>) -> Result<(), ExtensionError> {
        let id = match response.headers().get(headers::EXTENSION_IDENTIFIER) {
            Some(value) => ExtensionId::from_bytes(value.as_bytes()).map_err(Some),
            None => Err(None::<IdError>),
        };
        match id {
            Ok(id) => {
                self.id = Some(id);
                self.phase = Phase::Registered;
                let info = RegisterInfo::decode(response.body());
                self.events.push_back(ExtensionEvent::Registered(info));
                Ok(())
            }
            Err(error) => Err(self.fail(ExtensionError::BadIdentifier(error))),
        }
    }

    fn deliver(&mut self, body: &Bytes) -> Result<(), ExtensionError> {
        let event = match LifecycleEvent::decode(body) {
            Ok(event) => event,
            Err(error) => return Err(self.fail(ExtensionError::MalformedEvent(error))),
        };
        let (phase, event) = match event {
            LifecycleEvent::Invoke(invoke) => (Phase::Handling, ExtensionEvent::Invoke(invoke)),
            LifecycleEvent::Other { event_type, body } => {
                (Phase::Handling, ExtensionEvent::Unknown { event_type, body })
            }
            LifecycleEvent::Shutdown(shutdown) => (Phase::ShuttingDown, ExtensionEvent::Shutdown(shutdown)),
        };
        self.phase = phase;
        self.events.push_back(event);
        Ok(())
    }

    /// Reports that the request in flight failed in transit. It is resent
    /// after a back-off [`Timer`]; once the retries are used up the machine
    /// stops with [`ExtensionError::Transport`], which is returned.
    pub fn handle_transport_error(
        &mut self,
        token: Token,
        error: TransportError,
    ) -> Result<(), ExtensionError> {
        self.check_running()?;
        let retry = self.retry;
        let failure = match &mut self.phase {
            Phase::Busy(work, attempt) if token == TOKEN && attempt.is_in_flight() => {
                match attempt.failed(&retry) {
                    AfterFailure::Retry => return Ok(()),
                    AfterFailure::GiveUp { attempts } => {
                        ExtensionError::Transport { call: work.call(), attempts, last: error }
                    }
                }
            }
            _ => return Err(ExtensionError::UnexpectedResponse(token)),
        };
        Err(self.fail(failure))
    }

    /// Subscribes to the Telemetry or Logs API. Allowed only between register
    /// and [`ready`](Self::ready).
    pub fn subscribe(&mut self, subscription: Subscription) -> Result<(), ExtensionError> {
        self.transition("subscribe", &[PhaseKind::Registered], Work::Subscribe(subscription))
    }

    /// Ends init: sends the first `event/next`.
    pub fn ready(&mut self) -> Result<(), ExtensionError> {
        self.transition("ready", &[PhaseKind::Registered], Work::Next)
    }

    /// The current event is handled: asks for the next one.
    pub fn event_done(&mut self) -> Result<(), ExtensionError> {
        self.transition("event_done", &[PhaseKind::Handling], Work::Next)
    }

    /// Reports a failed initialisation; the machine then exits.
    pub fn init_error(&mut self, report: ErrorReport) -> Result<(), ExtensionError> {
        self.transition("init_error", &[PhaseKind::Registered], Work::InitError(report))
    }

    /// Reports a failure after init (while handling an event or shutting
    /// down); the machine then exits.
    pub fn exit_error(&mut self, report: ErrorReport) -> Result<(), ExtensionError> {
        self.transition(
            "exit_error",
            &[PhaseKind::Handling, PhaseKind::ShuttingDown],
            Work::ExitError(report),
        )
    }

    /// Shutdown work is done: the machine exits with [`ExitReason::Shutdown`].
    pub fn exit(&mut self) -> Result<(), ExtensionError> {
        self.check_running()?;
        if self.phase != Phase::ShuttingDown {
            return Err(self.not_allowed("exit"));
        }
        self.exit_with(ExitReason::Shutdown);
        Ok(())
    }

    fn transition(
        &mut self,
        action: &'static str,
        allowed: &[PhaseKind],
        work: Work,
    ) -> Result<(), ExtensionError> {
        self.check_running()?;
        if !allowed.contains(&self.phase_kind()) {
            return Err(self.not_allowed(action));
        }
        self.phase = Phase::Busy(work, Attempt::FRESH);
        Ok(())
    }

    fn phase_kind(&self) -> PhaseKind {
        match self.phase {
            Phase::Registered => PhaseKind::Registered,
            Phase::Handling => PhaseKind::Handling,
            Phase::ShuttingDown => PhaseKind::ShuttingDown,
            Phase::Busy(..) | Phase::Exited => PhaseKind::Other,
        }
    }

    fn not_allowed(&self, action: &'static str) -> ExtensionError {
        let state = match &self.phase {
            Phase::Busy(Work::Register, _) => "registering",
            Phase::Busy(Work::Subscribe(_), _) => "subscribing",
            Phase::Busy(Work::Next, _) => "waiting for an event",
            Phase::Busy(Work::InitError(_) | Work::ExitError(_), _) => "reporting an error",
            Phase::Registered => "registered",
            Phase::Handling => "handling an event",
            Phase::ShuttingDown => "shutting down",
            Phase::Exited => "exited",
        };
        ExtensionError::NotAllowed { action, state }
    }

    fn take_in_flight(&mut self, token: Token) -> Result<Work, ExtensionError> {
        match &self.phase {
            Phase::Busy(_, attempt) if token == TOKEN && attempt.is_in_flight() => {}
            _ => return Err(ExtensionError::UnexpectedResponse(token)),
        }
        match std::mem::replace(&mut self.phase, Phase::Exited) {
            Phase::Busy(work, _) => Ok(work),
            other => {
                self.phase = other;
                Err(ExtensionError::UnexpectedResponse(token))
            }
        }
    }

    fn check_running(&self) -> Result<(), ExtensionError> {
        match &self.exit {
            None => Ok(()),
            Some(ExitReason::Fatal(error)) => Err(error.clone()),
            Some(_) => Err(ExtensionError::Exited),
        }
    }

    fn fail(&mut self, error: ExtensionError) -> ExtensionError {
        self.exit_with(ExitReason::Fatal(error.clone()));
        error
    }

    fn exit_with(&mut self, reason: ExitReason) {
        if self.exit.is_none() {
            self.phase = Phase::Exited;
            self.exit = Some(reason.clone());
            self.events.push_back(ExtensionEvent::Exit(reason));
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PhaseKind {
    Registered,
    Handling,
    ShuttingDown,
    Other,
}
