//! The extension lifecycle (Registered → Ready → Invoking → Shutdown) as a
//! state machine.

use std::collections::VecDeque;

use bytes::Bytes;

use super::error::{ExitReason, ExtensionError, RegisterRejection};
use super::event::{EventType, InvokeEvent, LifecycleEvent, RegisterInfo, ShutdownEvent};
use super::refusal::{SubscriptionRefusal, UnavailableEvents};
use super::requests;
use crate::address::ApiAddress;
use crate::attempt::{AfterFailure, Attempt};
use std::time::Instant;

use crate::exchange::{BodyMode, Call, Outbound, Token, TransportError};
use crate::headers;
use crate::ids::{ExtensionId, ExtensionName, IdError};
use crate::report::{ErrorReport, ServerError};
use crate::retry::RetryPolicy;
use crate::telemetry::Subscription;

use super::config::ExtensionConfig;

/// The one connection an extension uses.
const TOKEN: Token = Token(0);

/// What the extension machine tells its host: only what the host must act
/// on or tell its user. The rest of the lifecycle (subscribing, finishing
/// init, acknowledging event types this version does not know) the machine
/// does by itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ExtensionEvent {
    /// Registered and subscribed, with [`ExtensionConfig::auto_ready`] off:
    /// do init work, then call [`ready`](ExtensionMachine::ready) (or
    /// [`init_error`](ExtensionMachine::init_error)).
    Registered(RegisterInfo),
    /// The subscription was refused (`4xx`, or a `2xx` that says the API is
    /// not supported). Init waits for the host: [`done`](ExtensionMachine::done)
    /// with `Ok` goes on without it, with `Err` reports an init error.
    SubscriptionRejected(SubscriptionRefusal),
    /// An invocation started. Call [`done`](ExtensionMachine::done) when the
    /// extension has done its work for it.
    Invoke(InvokeEvent),
    /// The environment shuts down. Clean up before the deadline, then call
    /// [`done`](ExtensionMachine::done).
    Shutdown(ShutdownEvent),
    /// Events the extension asked for that this environment does not offer
    /// (INVOKE under Managed Instances). The machine registered without
    /// them; emitted once, first. Tell the user; nothing to answer.
    EventsUnavailable(UnavailableEvents),
    /// The machine stopped; the process should exit. Emitted once.
    Exit(ExitReason),
}

/// The client side of the Extensions API, for one extension.
///
/// Lifecycle: register → subscribe (when configured) → ready (the first
/// `event/next`, which tells the platform init is done; by itself unless
/// [`ExtensionConfig::auto_ready`] is off) → INVOKE events, each closed by
/// [`done`](Self::done) → SHUTDOWN, closed by [`done`](Self::done) → exit.
/// Outcomes by status:
///
/// | call | status | outcome |
/// |---|---|---|
/// | register | 2xx with a valid identifier | subscribe, else ready (or [`ExtensionEvent::Registered`] without `auto_ready`) |
/// | register | 2xx without one | fatal [`ExtensionError::BadIdentifier`] |
/// | register | 4xx | fatal [`ExtensionError::RegisterRejected`] |
/// | subscribe | 2xx | ready (or `Registered`) ([`ExtensionEvent::SubscriptionRejected`] for `*.NotSupported`) |
/// | subscribe | 4xx (403 included: a subscription is optional) | [`ExtensionEvent::SubscriptionRejected`], still registered |
/// | event/next | 200 | INVOKE or SHUTDOWN to the host; an unknown event type is acknowledged (next `event/next`); an unreadable body is fatal |
/// | init/exit error | 2xx | exit |
/// | anything else | | fatal [`ExtensionError::Status`] |
/// | any | transport error | retry after a back-off ([`poll_timeout`](Self::poll_timeout)) per [`RetryPolicy`], then fatal |
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
    subscription: Option<Subscription>,
    auto_ready: bool,
    info: Option<RegisterInfo>,
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
            events.push_back(ExtensionEvent::EventsUnavailable(UnavailableEvents(vec![EventType::Invoke])));
        }
        Self {
            address: config.address,
            name: config.name,
            events_wanted,
            accept_account_id: config.accept_account_id,
            retry: config.retry,
            managed_instances: config.managed_instances,
            subscription: config.subscription,
            auto_ready: config.auto_ready,
            info: None,
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

    /// What the register answer said, once registered.
    pub fn register_info(&self) -> Option<&RegisterInfo> {
        self.info.as_ref()
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

    /// When the machine next needs [`handle_timeout`](Self::handle_timeout):
    /// the end of a retry's back-off. `None` when nothing waits.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Busy(_, attempt) => attempt.waiting_until(),
            _ => None,
        }
    }

    /// Time is `now`: a back-off that has ended queues its request again. An
    /// early or spurious call changes nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Phase::Busy(_, attempt) = &mut self.phase {
            attempt.handle_timeout(now);
        }
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
                if status.is_success() && !unsupported {
                    self.finish_init();
                } else {
                    self.phase = Phase::Registered;
                    let refusal = SubscriptionRefusal { status: status.as_u16(), server };
                    self.events.push_back(ExtensionEvent::SubscriptionRejected(refusal));
                }
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
                self.info = Some(RegisterInfo::decode(response.body()));
                match self.subscription.take() {
                    Some(subscription) => {
                        self.phase = Phase::Busy(Work::Subscribe(subscription), Attempt::FRESH)
                    }
                    None => self.finish_init(),
                }
                Ok(())
            }
            Err(error) => Err(self.fail(ExtensionError::BadIdentifier(error))),
        }
    }

    /// Registered (and subscribed): finishes init, or hands over to the host.
    fn finish_init(&mut self) {
        if self.auto_ready {
            self.phase = Phase::Busy(Work::Next, Attempt::FRESH);
        } else {
            self.phase = Phase::Registered;
            self.events.push_back(ExtensionEvent::Registered(self.info.clone().unwrap_or_default()));
        }
    }

    fn deliver(&mut self, body: &Bytes) -> Result<(), ExtensionError> {
        let event = match LifecycleEvent::decode(body) {
            Ok(event) => event,
            Err(error) => return Err(self.fail(ExtensionError::MalformedEvent(error))),
        };
        match event {
            LifecycleEvent::Invoke(invoke) => {
                self.phase = Phase::Handling;
                self.events.push_back(ExtensionEvent::Invoke(invoke));
            }
            // A new event type: nothing the host can act on; acknowledged.
            LifecycleEvent::Other { .. } => self.phase = Phase::Busy(Work::Next, Attempt::FRESH),
            LifecycleEvent::Shutdown(shutdown) => {
                self.phase = Phase::ShuttingDown;
                self.events.push_back(ExtensionEvent::Shutdown(shutdown));
            }
        }
        Ok(())
    }

    /// Reports that the request in flight failed in transit at `now`. It is
    /// resent once its back-off has passed ([`poll_timeout`](Self::poll_timeout));
    /// once the retries are used up the machine stops with
    /// [`ExtensionError::Transport`], which is returned.
    pub fn handle_transport_error(
        &mut self,
        token: Token,
        error: TransportError,
        now: Instant,
    ) -> Result<(), ExtensionError> {
        self.check_running()?;
        let retry = self.retry;
        let failure = match &mut self.phase {
            Phase::Busy(work, attempt) if token == TOKEN && attempt.is_in_flight() => {
                match attempt.failed(&retry, now) {
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

    /// Closes what the host was handed with its outcome: after INVOKE, `Ok`
    /// asks for the next event and `Err` reports it with exit/error (the
    /// extension then exits); after SHUTDOWN, `Ok` exits and `Err` reports
    /// first; after a refused subscription (or `Registered`), `Ok` finishes
    /// init and `Err` reports an init error.
    pub fn done(&mut self, outcome: Result<(), ErrorReport>) -> Result<(), ExtensionError> {
        self.check_running()?;
        match (self.phase_kind(), outcome) {
            (PhaseKind::Handling, Ok(())) => self.event_done(),
            (PhaseKind::ShuttingDown, Ok(())) => self.exit(),
            (PhaseKind::Handling | PhaseKind::ShuttingDown, Err(report)) => self.exit_error(report),
            (PhaseKind::Registered, Ok(())) => self.ready(),
            (PhaseKind::Registered, Err(report)) => self.init_error(report),
            (PhaseKind::Other, _) => Err(self.not_allowed("done")),
        }
    }

    /// Subscribes to the Telemetry or Logs API. Allowed only between register
    /// and [`ready`](Self::ready) (with [`ExtensionConfig::auto_ready`] off,
    /// or after a refused subscription).
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
