//! The one task that owns the platform machine. Everything else talks to it
//! through [`Command`]s; it never blocks on I/O.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use lambda_sansio::extension::ShutdownReason;
use lambda_sansio::platform::{
    ConnId, NewInvocation, Outcome, PlatformConfig, PlatformEvent, PlatformMachine, UnreadableBody,
};
use lambda_sansio::telemetry::RecordCategory;
use lambda_sansio::{DeadlineMs, RequestId};
use tokio::sync::{mpsc, oneshot};

use std::sync::{Arc, Mutex};

use lambda_sansio::platform::telemetry as records;

use super::events::EventLog;

use super::ids::IdSource;
use super::outcome::InvokeOutcome;
use super::telemetry::{self, Delivery, Record};

/// Where a line of output came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    Runtime,
    Extension(String),
}

pub(crate) enum Command {
    /// A client request on connection `conn`; the answer goes to `reply`.
    /// `unreadable` says why the body could not be read whole (then the
    /// request carries the head only).
    Api {
        conn: ConnId,
        request: Box<http::Request<Bytes>>,
        unreadable: Option<UnreadableBody>,
        reply: oneshot::Sender<http::Response<Bytes>>,
    },
    /// The client of `conn` went away before its answer.
    Closed { conn: ConnId },
    /// The answer for `conn` was deliberately not delivered (fault injection).
    Undelivered { conn: ConnId },
    /// A new invocation.
    Invoke { payload: Bytes, reply: oneshot::Sender<InvokeOutcome> },
    /// A line of process output.
    Output { source: Source, line: String },
    /// The runtime or an extension process exited.
    Exited { source: Source, status: String },
    /// Start shutdown; answers with the names of the registered extensions.
    Shutdown { reason: ShutdownReason, reply: oneshot::Sender<Vec<String>> },
    /// The supervisor stopped the old processes: start a fresh environment
    /// (a new platform machine), then acknowledge.
    Reset { done: oneshot::Sender<()> },
}

/// What the process supervisor is asked to do.
pub(crate) enum Supervise {
    /// The environment died (timeout in classic mode, runtime crash): stop
    /// its processes and start new ones.
    Reset,
    /// Shut down as Lambda does and report how each process ended.
    Shutdown { reply: oneshot::Sender<super::ShutdownReport> },
}

/// What the actor knows of the function it runs.
pub(crate) struct Function {
    pub(crate) timeout: Duration,
    pub(crate) memory_mb: u32,
    /// The current bootstrap's process id, for its memory figures.
    pub(crate) runtime_pid: Arc<Mutex<Option<u32>>>,
    /// `AWS_LAMBDA_INITIALIZATION_TYPE`, as init records report it.
    pub(crate) initialization_type: &'static str,
    /// Freezes the environment between invocations.
    pub(crate) freezer: super::freeze::Freezer,
    /// How long the current environment's init took, once it completed.
    pub(crate) init_duration: Arc<Mutex<Option<Duration>>>,
}

impl Function {
    /// The peak resident memory of the bootstrap and everything it started,
    /// in MB (0 where `/proc` is absent).
    fn peak_memory_mb(&self) -> u64 {
        let pid = self.runtime_pid.lock().ok().and_then(|pid| *pid);
        pid.map_or(0, super::tree::peak_rss_mb)
    }
}

pub(crate) struct Actor {
    platform: PlatformMachine,
    platform_config: PlatformConfig,
    supervisor: mpsc::UnboundedSender<Supervise>,
    /// Shutdown was asked for by the user: nothing is reset any more.
    stopping: bool,
    /// Why the environment is dead, until it is reset.
    dead: Option<String>,
    /// Invocations that arrived while the environment was being reset.
    held: Vec<(Bytes, oneshot::Sender<InvokeOutcome>, Attempt)>,
    /// When the current environment started, for the init report.
    init_started: Instant,
    pending: HashMap<ConnId, oneshot::Sender<http::Response<Bytes>>>,
    waiters: HashMap<RequestId, Waiter>,
    deadlines: BTreeMap<(Instant, u64), RequestId>,
    timeout: Duration,
    ids: IdSource,
    function_arn: String,
    function: Function,
    subscribers: Vec<(Vec<RecordCategory>, mpsc::UnboundedSender<Delivery>)>,
    /// Answered invocations whose `platform.report` waits for the platform
    /// to declare them over: when each started, and its status.
    ending: HashMap<RequestId, (Option<Instant>, &'static str)>,
    events: EventLog,
    registered: Vec<String>,
}

/// Which per-invocation metrics record to publish.
#[derive(Debug, Clone, Copy)]
enum MetricsRecord {
    RuntimeDone,
    Report,
}

/// Whether an invocation already waited for a fresh environment once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attempt {
    First,
    Again,
}

struct Waiter {
    reply: oneshot::Sender<InvokeOutcome>,
    started: Option<Instant>,
    /// The event, kept until the invocation starts so that a queued one can
    /// run in the next environment when this one fails first (only on its
    /// first attempt).
    payload: Option<Bytes>,
}

fn epoch_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Actor {
    pub(crate) fn new(
        config: PlatformConfig,
        function: Function,
        events: EventLog,
        supervisor: mpsc::UnboundedSender<Supervise>,
    ) -> Self {
        let function_arn = format!("arn:aws:lambda:us-east-1:000000000000:function:{}", config.function_name);
        Self {
            platform: PlatformMachine::new(config.clone()),
            platform_config: config,
            supervisor,
            stopping: false,
            dead: None,
            held: Vec::new(),
            init_started: Instant::now(),
            pending: HashMap::new(),
            waiters: HashMap::new(),
            deadlines: BTreeMap::new(),
            timeout: function.timeout,
            ids: IdSource::new(),
            function_arn,
            function,
            subscribers: Vec::new(),
            ending: HashMap::new(),
            events,
            registered: Vec::new(),
        }
    }

    /// Runs until every command sender is gone.
    pub(crate) async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        // A shutdown asked for while answered invocations still wait for
        // their extensions' `next`: Lambda would not spin down in the middle
        // of that work, so it waits for them (at most 2 s) first.
        let mut shutdown: Option<(ShutdownReason, oneshot::Sender<Vec<String>>, Instant)> = None;
        loop {
            if shutdown.as_ref().is_some_and(|(_, _, by)| self.ending.is_empty() || Instant::now() >= *by) {
                if let Some((reason, reply, _)) = shutdown.take() {
                    self.stopping = true;
                    // Lambda delivers buffered telemetry before SHUTDOWN.
                    self.flush_telemetry().await;
                    self.platform.shutdown(reason, self.shutdown_deadline());
                    self.flush();
                    let _ = reply.send(self.registered.clone());
                }
            }
            let next_deadline = self.deadlines.keys().next().map(|(at, _)| *at);
            let wake = match &shutdown {
                Some((_, _, by)) => Some(next_deadline.map_or(*by, |at| at.min(*by))),
                None => next_deadline,
            };
            let was_shutting_down = self.platform.is_shutting_down();
            tokio::select! {
                command = commands.recv() => match command {
                    Some(Command::Shutdown { reason, reply }) => {
                        self.function.freezer.thaw();
                        shutdown = Some((reason, reply, Instant::now() + Duration::from_secs(2)));
                    }
                    Some(command) => self.handle(command),
                    None => return,
                },
                () = sleep_until(wake) => self.expire(Instant::now()),
            }
            if !was_shutting_down && self.platform.is_shutting_down() {
                // A timeout or a crash: the records of what it ended reach
                // the subscribers before SHUTDOWN does, as on Lambda.
                self.publish_events();
                self.flush_telemetry().await;
            }
            self.flush();
            if self.platform.may_freeze() && self.dead.is_none() && !self.stopping && shutdown.is_none() {
                self.function.freezer.freeze();
            }
        }
    }

    fn handle(&mut self, command: Command) {
        match command {
            Command::Api { conn, request, unreadable, reply } => {
                self.pending.insert(conn, reply);
                match unreadable {
                    None => self.platform.handle_request(conn, &request),
                    Some(problem) => self.platform.handle_unreadable_request(conn, &request, problem),
                }
            }
            Command::Closed { conn } => {
                if self.pending.remove(&conn).is_some() {
                    self.platform.connection_closed(conn);
                }
            }
            Command::Undelivered { conn } => self.platform.delivery_failed(conn),
            Command::Invoke { payload, reply } => self.invoke(payload, reply, Attempt::First),
            Command::Output { source, line } => {
                let (category, kind) = match source {
                    Source::Runtime => (RecordCategory::Function, "function"),
                    Source::Extension(_) => (RecordCategory::Extension, "extension"),
                };
                let record = records::record(kind, telemetry::epoch_now(), serde_json::Value::String(line));
                self.publish(category, record);
            }
            Command::Exited { source, status } => {
                self.function.freezer.thaw();
                if self.dead.is_some() || self.stopping {
                    return;
                }
                // A process that ends while the environment runs fails it,
                // the runtime or an extension alike: Lambda resets the
                // environment, and so does the next invocation here.
                let reason = match source {
                    Source::Runtime => format!("Runtime exited: {status}"),
                    Source::Extension(name) => format!("Extension {name} exited: {status}"),
                };
                // Invocations that started are lost with the environment;
                // queued ones wait for the next environment, once: a
                // function whose every environment fails (an init error)
                // fails them instead of starting environments forever.
                let ids: Vec<RequestId> = self.waiters.keys().cloned().collect();
                let mut requeued = Vec::new();
                for id in ids {
                    let queued =
                        self.waiters.get(&id).is_some_and(|w| w.started.is_none() && w.payload.is_some());
                    if queued {
                        if let Some(Waiter { reply, payload: Some(payload), .. }) = self.waiters.remove(&id) {
                            self.deadlines.retain(|_, waiting| waiting != &id);
                            requeued.push((payload, reply));
                        }
                    }
                }
                // The platform ends the rest, with their runtimeDone and
                // report records, as Lambda does after a crash.
                self.dead = Some(reason);
                self.platform.shutdown(ShutdownReason::Failure, self.shutdown_deadline());
                for (payload, reply) in requeued {
                    self.invoke(payload, reply, Attempt::Again);
                }
            }
            Command::Reset { done } => {
                self.reset();
                let _ = done.send(());
            }
            Command::Shutdown { .. } => {}
        }
    }

    /// Asks every delivery task to send what it holds; waits at most 1 s.
    async fn flush_telemetry(&mut self) {
        let mut acks = Vec::new();
        for (_, sender) in &self.subscribers {
            let (ack, done) = oneshot::channel();
            if sender.send(Delivery::Flush(ack)).is_ok() {
                acks.push(done);
            }
        }
        let all = async {
            for done in acks {
                let _ = done.await;
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), all).await;
    }

    /// A fresh environment: a new platform machine; what belonged to the old
    /// one (parked polls, subscriptions, deadlines) is dropped; held
    /// invocations go to the new one.
    fn reset(&mut self) {
        self.function.freezer.thaw();
        self.platform = PlatformMachine::new(self.platform_config.clone());
        self.init_started = Instant::now();
        self.pending.clear();
        self.deadlines.clear();
        self.subscribers.clear();
        self.ending.clear();
        self.registered.clear();
        self.dead = None;
        for (payload, reply, attempt) in std::mem::take(&mut self.held) {
            self.invoke(payload, reply, attempt);
        }
    }

    fn shutdown_deadline(&self) -> DeadlineMs {
        DeadlineMs(epoch_ms(SystemTime::now()) + 2_000)
    }

    fn invoke(&mut self, payload: Bytes, reply: oneshot::Sender<InvokeOutcome>, attempt: Attempt) {
        self.function.freezer.thaw();
        if self.stopping {
            let _ = reply.send(InvokeOutcome::Aborted("the emulator is shutting down".into()));
            return;
        }
        if self.dead.is_some() {
            // A dead environment is replaced, as Lambda does, before this runs.
            if self.held.is_empty() {
                let _ = self.supervisor.send(Supervise::Reset);
            }
            self.held.push((payload, reply, attempt));
            return;
        }
        let request_id = self.ids.request_id();
        let payload_copy = payload.clone();
        let deadline = DeadlineMs(epoch_ms(SystemTime::now() + self.timeout));
        let invocation = NewInvocation {
            request_id: request_id.clone(),
            payload,
            deadline,
            invoked_function_arn: self.function_arn.clone(),
            trace_id: Some(self.ids.trace_id()),
            client_context: None,
            cognito_identity: None,
            tenant_id: None,
            invocation_id: None,
        };
        match self.platform.invoke(invocation) {
            Ok(()) => {
                let seq = self.ids.next_seq();
                self.deadlines.insert((Instant::now() + self.timeout, seq), request_id.clone());
                let payload = (attempt == Attempt::First).then_some(payload_copy);
                self.waiters.insert(request_id, Waiter { reply, started: None, payload });
            }
            Err(error) => {
                let _ = reply.send(InvokeOutcome::Aborted(error.to_string()));
            }
        }
    }

    fn expire(&mut self, now: Instant) {
        let due: Vec<(Instant, u64)> = self.deadlines.range(..=(now, u64::MAX)).map(|(k, _)| *k).collect();
        for key in due {
            if let Some(id) = self.deadlines.remove(&key) {
                self.platform.timeout(&id, self.shutdown_deadline());
            }
        }
    }

    /// Writes every ready answer and reacts to every platform event.
    fn flush(&mut self) {
        loop {
            let mut moved = false;
            while let Some((conn, response)) = self.platform.poll_response() {
                moved = true;
                let delivered = self.pending.remove(&conn).is_some_and(|reply| reply.send(response).is_ok());
                if !delivered {
                    self.platform.delivery_failed(conn);
                }
            }
            moved |= self.publish_events();
            if !moved {
                if self.platform.is_shutting_down() && !self.stopping && self.dead.is_none() {
                    self.dead = Some("the environment shut down after a timeout".into());
                }
                return;
            }
        }
    }

    /// Reacts to every platform event; returns whether there was one.
    fn publish_events(&mut self) -> bool {
        let mut any = false;
        while let Some(event) = self.platform.poll_event() {
            any = true;
            self.on_event(&event);
            self.events.publish(event);
        }
        any
    }

    fn on_event(&mut self, event: &PlatformEvent) {
        match event {
            PlatformEvent::ExtensionRegistered { name, .. } => self.registered.push(name.clone()),
            PlatformEvent::InitComplete => {
                let (kind, duration) = (self.function.initialization_type, self.init_started.elapsed());
                if let Ok(mut init) = self.function.init_duration.lock() {
                    *init = Some(duration);
                }
                for record in records::init_records(kind, duration, telemetry::epoch_now()) {
                    self.publish(RecordCategory::Platform, record);
                }
            }
            PlatformEvent::Subscribed { subscription, .. } => {
                let sender = telemetry::spawn_delivery(subscription.clone(), self.function.freezer.watch());
                self.subscribers.push((subscription.types().to_vec(), sender));
            }
            PlatformEvent::InvocationStarted { request_id } => {
                if let Some(waiter) = self.waiters.get_mut(request_id) {
                    waiter.started.get_or_insert_with(Instant::now);
                    waiter.payload = None;
                }
                let record = records::start_record(request_id.as_str(), "$LATEST", telemetry::epoch_now());
                self.publish(RecordCategory::Platform, record);
            }
            PlatformEvent::InvocationCompleted { request_id, outcome } => {
                let result = match outcome {
                    Outcome::Response { body, .. } => InvokeOutcome::Response(body.clone()),
                    Outcome::Error { error_type, body } => {
                        InvokeOutcome::Error(error_type.clone(), body.clone())
                    }
                    Outcome::TimedOut => InvokeOutcome::TimedOut,
                    Outcome::Aborted => InvokeOutcome::Aborted(
                        self.dead.clone().unwrap_or_else(|| "the environment shut down".into()),
                    ),
                };
                // An invocation moved to the next environment is not over.
                if let Some(waiter) = self.waiters.get(request_id) {
                    let (started, status) = (waiter.started, records::status_of(outcome));
                    if started.is_some() {
                        self.publish_metrics(request_id, started, status, MetricsRecord::RuntimeDone);
                        self.ending.insert(request_id.clone(), (started, status));
                    }
                    self.finish(request_id, result);
                }
            }
            // As Lambda does: the report comes once every extension called
            // `next` (its duration includes their work), not at the answer.
            PlatformEvent::InvocationEnded { request_id } => {
                if let Some((started, status)) = self.ending.remove(request_id) {
                    self.publish_metrics(request_id, started, status, MetricsRecord::Report);
                }
            }
            _ => {}
        }
    }

    fn publish_metrics(
        &mut self,
        request_id: &RequestId,
        started: Option<Instant>,
        status: &'static str,
        which: MetricsRecord,
    ) {
        // Measuring memory reads /proc: only for someone who will read it.
        if !self.subscribers.iter().any(|(categories, _)| categories.contains(&RecordCategory::Platform)) {
            return;
        }
        let mut metrics = records::InvocationMetrics {
            status,
            duration: started.map_or(Duration::ZERO, |s| s.elapsed()),
            memory_size_mb: self.function.memory_mb,
            max_memory_used_mb: 0,
        };
        let (id, now) = (request_id.as_str(), telemetry::epoch_now());
        let record = match which {
            MetricsRecord::RuntimeDone => records::runtime_done_record(id, &metrics, now),
            MetricsRecord::Report => {
                metrics.max_memory_used_mb = self.function.peak_memory_mb();
                records::report_record(id, &metrics, now)
            }
        };
        self.publish(RecordCategory::Platform, record);
    }

    fn finish(&mut self, request_id: &RequestId, result: InvokeOutcome) {
        self.deadlines.retain(|_, id| id != request_id);
        if let Some(waiter) = self.waiters.remove(request_id) {
            let _ = waiter.reply.send(result);
        }
    }

    fn publish(&mut self, category: RecordCategory, record: Record) {
        self.subscribers.retain(|(categories, sender)| {
            !categories.contains(&category) || sender.send(Delivery::Record(record.clone())).is_ok()
        });
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
