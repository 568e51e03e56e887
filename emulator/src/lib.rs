//! A local Lambda emulator: core's
//! [`PlatformMachine`](lambda_sansio::platform::PlatformMachine) served over
//! HTTP/1.1 on loopback, with the bootstrap and extensions run as child
//! processes. The `lambda-sansio-emulator` binary is its command line.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use lambda_sansio_emulator::{Emulator, EmulatorConfig, InvokeOutcome};
//!
//! let config = EmulatorConfig { bootstrap: Some("./bootstrap".into()), ..EmulatorConfig::default() };
//! let emulator = Emulator::start(config).await?;
//! let outcome = emulator.invoke(bytes::Bytes::from_static(b"{}")).await?;
//! assert!(matches!(outcome, InvokeOutcome::Response(_)));
//! emulator.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! It serves the Runtime, Extensions and Telemetry APIs to the processes it
//! launches (their `AWS_LAMBDA_RUNTIME_API`), and AWS's invoke endpoint
//! (`POST /2015-03-31/functions/function/invocations`) on the same port.

#![cfg_attr(not(test), deny(clippy::unwrap_used))]

mod actor;
pub mod client;
mod events;
mod faults;
mod freeze;
mod http_front;
mod ids;
pub mod load;
mod outcome;
mod output;
mod process;
mod reports;
mod server;
mod telemetry;
mod tree;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use lambda_sansio::extension::ShutdownReason;
use lambda_sansio::platform::telemetry::ShutdownBudgets;
use lambda_sansio::platform::{PlatformConfig, PlatformEvent};
use lambda_sansio::runtime::Mode;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

pub use events::{Events, RecvError, TryRecvError, HISTORY, HISTORY_BYTES};
pub use faults::{Fault, FaultRule};
pub use outcome::InvokeOutcome;
pub use output::{OutputLine, KEPT_LINES};
pub use reports::{FunctionUsage, ProcessUsage, ShutdownReport};
pub use server::INVOKE_PATH;

use actor::{Actor, Command, Source, Supervise};
use events::EventLog;
use process::Running;

/// How to run the function.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// The `bootstrap` executable; `None` serves the APIs only (for clients
    /// started some other way).
    pub bootstrap: Option<PathBuf>,
    /// A directory whose executables are started as external extensions, as
    /// `/opt/extensions` is on Lambda.
    pub extensions_dir: Option<PathBuf>,
    /// More external extension executables, started with those of
    /// `extensions_dir`.
    pub extensions: Vec<PathBuf>,
    /// Names of extensions the caller runs itself that count as external
    /// (may register for SHUTDOWN), as if they were in `/opt/extensions`.
    /// The bootstrap starts after they register (or `register_wait` passes).
    pub external_names: Vec<String>,
    /// Classic, or Managed Instances with a concurrency.
    pub mode: Mode,
    /// The function timeout.
    pub timeout: Duration,
    /// `AWS_LAMBDA_FUNCTION_NAME`.
    pub function_name: String,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`.
    pub memory_mb: u32,
    /// `_HANDLER`.
    pub handler: String,
    /// Where to listen; port 0 picks a free one. Loopback by default.
    pub bind: SocketAddr,
    /// Faults to inject.
    pub faults: Vec<FaultRule>,
    /// Extra environment for the processes.
    pub env: Vec<(String, String)>,
    /// `AWS_LAMBDA_LOG_FORMAT`: `Text` (the default) or `JSON`.
    pub log_format: String,
    /// `AWS_LAMBDA_LOG_LEVEL`, when set.
    pub log_level: Option<String>,
    /// How long to wait for extensions to register before starting the
    /// bootstrap.
    pub register_wait: Duration,
    /// Freeze the environment between invocations, as Lambda does: once
    /// the runtime and every extension called `next`, their processes are
    /// stopped (SIGSTOP) until the next invocation or shutdown (SIGCONT),
    /// and no telemetry is delivered meanwhile.
    pub freeze: bool,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            bootstrap: None,
            extensions_dir: None,
            extensions: Vec::new(),
            external_names: Vec::new(),
            mode: Mode::Classic,
            timeout: Duration::from_secs(30),
            function_name: "function".into(),
            memory_mb: 128,
            handler: "handler".into(),
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            faults: Vec::new(),
            env: Vec::new(),
            log_format: "Text".to_owned(),
            log_level: None,
            register_wait: Duration::from_secs(2),
            freeze: true,
        }
    }
}

/// Why the emulator could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// Binding, reading the extensions directory or launching a process failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: std::io::Error,
    },
    /// The emulator has stopped.
    #[error("the emulator has stopped")]
    Stopped,
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> EmulatorError {
    let context = context.into();
    move |source| EmulatorError::Io { context, source }
}

/// Invokes the function from any task (see [`Emulator::invoke`]).
#[derive(Clone)]
pub(crate) struct Invoker {
    commands: mpsc::UnboundedSender<Command>,
}

impl Invoker {
    pub(crate) async fn invoke(&self, payload: Bytes) -> Result<InvokeOutcome, EmulatorError> {
        let (reply, outcome) = oneshot::channel();
        self.commands.send(Command::Invoke { payload, reply }).map_err(|_| EmulatorError::Stopped)?;
        outcome.await.map_err(|_| EmulatorError::Stopped)
    }
}

/// A running emulator. Dropping it kills the processes; call
/// [`shutdown`](Self::shutdown) for the orderly SHUTDOWN/SIGTERM sequence.
///
/// Like Lambda, it replaces an environment that died (a classic-mode
/// timeout, a runtime that exited) before the next invocation: old
/// processes are stopped, a fresh platform is started, the extensions and
/// the bootstrap are launched again.
pub struct Emulator {
    address: SocketAddr,
    commands: mpsc::UnboundedSender<Command>,
    events: EventLog,
    supervisor: mpsc::UnboundedSender<Supervise>,
    server: tokio::task::JoinHandle<()>,
    first_next: Arc<std::sync::OnceLock<Duration>>,
    runtime_pid: Arc<std::sync::Mutex<Option<u32>>>,
    absolute_form: Arc<std::sync::atomic::AtomicU64>,
    freezer: freeze::Freezer,
    output: output::OutputLog,
    init_duration: Arc<std::sync::Mutex<Option<Duration>>>,
    extension_pids: ExtensionPids,
}

/// The extensions of the current environment: `(name, pid)`.
type ExtensionPids = Arc<std::sync::Mutex<Vec<(String, u32)>>>;

impl Emulator {
    /// Binds, starts the extensions, waits for them to register, then starts
    /// the bootstrap.
    pub async fn start(config: EmulatorConfig) -> Result<Self, EmulatorError> {
        let listener = TcpListener::bind(config.bind).await.map_err(io(format!("bind {}", config.bind)))?;
        let address = listener.local_addr().map_err(io("local address"))?;
        let mut extension_paths = match &config.extensions_dir {
            Some(dir) => process::extensions_in(dir).map_err(io(format!("read {}", dir.display())))?,
            None => Vec::new(),
        };
        extension_paths.extend(config.extensions.iter().cloned());
        let names = extension_paths
            .iter()
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .chain(config.external_names.iter().cloned())
            .collect();
        let platform = PlatformConfig {
            mode: config.mode,
            function_name: config.function_name.clone(),
            handler: config.handler.clone(),
            external_extensions: names,
            ..PlatformConfig::new(config.function_name.clone())
        };
        let events = EventLog::new();
        let (commands, receiver) = mpsc::unbounded_channel();
        let (supervisor, requests) = mpsc::unbounded_channel();
        let runtime_pid = Arc::new(std::sync::Mutex::new(None));
        let function = actor::Function {
            timeout: config.timeout,
            memory_mb: config.memory_mb,
            runtime_pid: Arc::clone(&runtime_pid),
            initialization_type: initialization_type(config.mode),
            freezer: freeze::Freezer::new(config.freeze),
            init_duration: Arc::new(std::sync::Mutex::new(None)),
        };
        let init_duration = Arc::clone(&function.init_duration);
        let freezer = function.freezer.clone();
        let output = output::OutputLog::default();
        let extension_pids = Arc::new(std::sync::Mutex::new(Vec::new()));
        let actor = Actor::new(platform, function, events.clone(), supervisor.clone());
        tokio::spawn(actor.run(receiver));
        let server = Arc::new(server::Server::new(
            commands.clone(),
            config.faults.clone(),
            config.timeout.as_secs_f64(),
        ));
        let absolute_form = Arc::clone(&server.absolute_form);
        let server = tokio::spawn(server.serve(listener));
        let mut processes = Supervisor {
            env: environment(&config, address),
            extension_paths,
            bootstrap: config.bootstrap.clone(),
            external_names: config.external_names.clone(),
            register_wait: config.register_wait,
            commands: commands.clone(),
            events: events.clone(),
            runtime: None,
            extensions: Vec::new(),
            first_next: Arc::new(std::sync::OnceLock::new()),
            runtime_pid,
            extension_pids: Arc::clone(&extension_pids),
            freezer: freezer.clone(),
            output: output.clone(),
        };
        processes.launch().await?;
        let (first_next, runtime_pid) =
            (Arc::clone(&processes.first_next), Arc::clone(&processes.runtime_pid));
        tokio::spawn(processes.run(requests));
        Ok(Self {
            address,
            commands,
            events,
            supervisor,
            server,
            first_next,
            runtime_pid,
            absolute_form,
            freezer,
            output,
            init_duration,
            extension_pids,
        })
    }

    /// Where the emulator listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The value for `AWS_LAMBDA_RUNTIME_API`.
    pub fn runtime_api(&self) -> String {
        self.address.to_string()
    }

    /// How many API requests arrived with an absolute-form target (each is
    /// also logged); clients should send origin form.
    pub fn absolute_form_requests(&self) -> u64 {
        self.absolute_form.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The lines the function's processes wrote so far (the newest
    /// [`KEPT_LINES`]), in the order they were read.
    pub fn output(&self) -> Vec<OutputLine> {
        self.output.snapshot()
    }

    /// How many times the environment was frozen between invocations (see
    /// [`EmulatorConfig::freeze`]).
    pub fn freezes(&self) -> u64 {
        self.freezer.freezes()
    }

    /// How long the current environment's init took (from starting the
    /// extensions to the runtime's and every extension's first `next`), as
    /// `platform.initReport` gives it; `None` before init completes.
    pub fn init_duration(&self) -> Option<Duration> {
        self.init_duration.lock().ok().and_then(|d| *d)
    }

    /// What each extension of the current environment (and what it
    /// started) has used so far, from `/proc` (zeros where it is absent).
    pub fn extension_usage(&self) -> Vec<(String, ProcessUsage)> {
        let pids = self.extension_pids.lock().map(|p| p.clone()).unwrap_or_default();
        pids.into_iter()
            .map(|(name, pid)| {
                let usage = ProcessUsage {
                    pid,
                    peak_rss_kib: tree::peak_rss_kib_total(pid),
                    cpu: tree::cpu_time(pid),
                };
                (name, usage)
            })
            .collect()
    }

    /// The current bootstrap's process id.
    pub fn runtime_pid(&self) -> Option<u32> {
        self.runtime_pid.lock().ok().and_then(|pid| *pid)
    }

    /// What the current bootstrap and every process it started have used so
    /// far, from `/proc` (zeros where it is absent).
    pub fn function_usage(&self) -> FunctionUsage {
        match self.runtime_pid() {
            Some(pid) => FunctionUsage { peak_rss_mb: tree::peak_rss_mb(pid), cpu: tree::cpu_time(pid) },
            None => FunctionUsage::default(),
        }
    }

    /// Time from starting the first bootstrap to its first `next` request,
    /// once it has made one.
    pub fn time_to_first_next(&self) -> Option<Duration> {
        self.first_next.get().copied()
    }

    /// What happens inside the environment: every event since the emulator
    /// started (the registrations and init that [`start`](Self::start)
    /// waited for included, within [`HISTORY`] and [`HISTORY_BYTES`]), in
    /// order, then each new one as it happens. Subscribing late loses
    /// nothing.
    pub fn events(&self) -> Events {
        self.events.subscribe()
    }

    /// Invokes the function and waits for the outcome.
    pub async fn invoke(&self, payload: Bytes) -> Result<InvokeOutcome, EmulatorError> {
        self.invoker().invoke(payload).await
    }

    /// A handle that invokes this emulator's function from any task.
    pub(crate) fn invoker(&self) -> Invoker {
        Invoker { commands: self.commands.clone() }
    }

    /// Shuts down as Lambda does: SHUTDOWN to the extensions that asked for
    /// it; the runtime gets SIGTERM and 300 ms (500 ms with an internal
    /// extension) before SIGKILL, or SIGKILL at once when no extension
    /// registered; external extensions get 2,000 ms to exit before SIGKILL.
    pub async fn shutdown(self) -> ShutdownReport {
        let (reply, report) = oneshot::channel();
        let _ = self.supervisor.send(Supervise::Shutdown { reply });
        let report = report.await.unwrap_or_default();
        self.server.abort();
        report
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Owns the processes of the current environment.
struct Supervisor {
    env: Vec<(String, String)>,
    extension_paths: Vec<PathBuf>,
    bootstrap: Option<PathBuf>,
    external_names: Vec<String>,
    register_wait: Duration,
    commands: mpsc::UnboundedSender<Command>,
    events: EventLog,
    runtime: Option<Running>,
    extensions: Vec<Running>,
    first_next: Arc<std::sync::OnceLock<Duration>>,
    runtime_pid: Arc<std::sync::Mutex<Option<u32>>>,
    freezer: freeze::Freezer,
    output: output::OutputLog,
    extension_pids: ExtensionPids,
}

impl Supervisor {
    /// Starts the extensions, waits for them to register, starts the bootstrap.
    async fn launch(&mut self) -> Result<(), EmulatorError> {
        let mut watch_events = self.events.subscribe_live();
        let extension_env: Vec<(String, String)> = self
            .env
            .iter()
            .filter(|(k, _)| k != "_HANDLER" && k != "AWS_LAMBDA_MAX_CONCURRENCY")
            .cloned()
            .collect();
        for path in &self.extension_paths {
            let name = path.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            let running =
                process::launch(path, &extension_env, Source::Extension(name), &self.commands, &self.output)
                    .map_err(io(format!("start {}", path.display())))?;
            self.extensions.push(running);
        }
        process::await_registration(
            &mut watch_events,
            &mut self.extensions,
            &self.external_names,
            self.register_wait,
        )
        .await;
        let launched = tokio::time::Instant::now();
        if let Some(path) = &self.bootstrap {
            let running = process::launch(path, &self.env, Source::Runtime, &self.commands, &self.output)
                .map_err(io(format!("start {}", path.display())))?;
            if let Ok(mut pid) = self.runtime_pid.lock() {
                *pid = running.pid();
            }
            self.runtime = Some(running);
        }
        let leaders = self.runtime.iter().chain(&self.extensions).filter_map(Running::group).collect();
        if let Ok(mut pids) = self.extension_pids.lock() {
            *pids = self.extensions.iter().filter_map(|e| Some((e.name.clone(), e.pid()?))).collect();
        }
        self.freezer.set_processes(leaders);
        if self.first_next.get().is_none() {
            let seen = Arc::clone(&self.first_next);
            tokio::spawn(async move {
                while let Ok(event) = watch_events.recv().await {
                    if event == PlatformEvent::RuntimeReady {
                        let _ = seen.set(launched.elapsed());
                        return;
                    }
                }
            });
        }
        Ok(())
    }

    async fn run(mut self, mut requests: mpsc::UnboundedReceiver<Supervise>) {
        while let Some(request) = requests.recv().await {
            match request {
                Supervise::Reset => self.reset().await,
                Supervise::Shutdown { reply } => {
                    let _ = reply.send(self.shutdown().await);
                    return;
                }
            }
        }
    }

    /// Replaces a dead environment: the runtime is killed, extensions get
    /// their 2,000 ms (they were sent SHUTDOWN), the platform starts afresh,
    /// the processes are launched again.
    async fn reset(&mut self) {
        self.freezer.set_processes(Vec::new());
        if let Some(mut runtime) = self.runtime.take() {
            runtime.stop(Duration::ZERO).await;
        }
        for mut extension in std::mem::take(&mut self.extensions) {
            extension.stop_after(Duration::from_millis(2_000)).await;
        }
        let (done, reset) = oneshot::channel();
        if self.commands.send(Command::Reset { done }).is_err() || reset.await.is_err() {
            return;
        }
        if let Err(error) = self.launch().await {
            eprintln!("emulator: could not restart the environment: {error}");
        }
    }

    async fn shutdown(&mut self) -> ShutdownReport {
        self.freezer.thaw();
        let (reply, registered) = oneshot::channel();
        let _ = self.commands.send(Command::Shutdown { reason: ShutdownReason::Spindown, reply });
        let registered = registered.await.unwrap_or_default();
        let internal =
            registered.iter().filter(|name| !self.extensions.iter().any(|e| &e.name == *name)).count();
        let budgets = ShutdownBudgets::for_extensions(registered.len(), internal);
        // No SIGTERM budget: SIGKILL at once.
        let runtime_budget = budgets.runtime_after_sigterm.unwrap_or(Duration::ZERO);
        let mut report = ShutdownReport {
            runtime_budget: budgets.runtime_after_sigterm,
            extension_budget: budgets.extensions,
            ..ShutdownReport::default()
        };
        let runtime = async {
            match self.runtime.as_mut() {
                Some(runtime) => Some((runtime.name.clone(), runtime.stop(runtime_budget).await)),
                None => None,
            }
        };
        let extensions = async {
            let mut outcomes = Vec::new();
            for extension in &mut self.extensions {
                outcomes.push((extension.name.clone(), extension.stop_after(budgets.extensions).await));
            }
            outcomes
        };
        let (runtime, extensions) = tokio::join!(runtime, extensions);
        if let Some((name, (status, killed))) = runtime {
            report.processes.push((name, status, killed));
        }
        for (name, (status, killed)) in extensions {
            report.processes.push((name, status, killed));
        }
        report.output = self.output.snapshot();
        report
    }
}

/// `AWS_LAMBDA_INITIALIZATION_TYPE` for the runtime and the extensions.
fn initialization_type(mode: Mode) -> &'static str {
    match mode {
        Mode::Classic => "on-demand",
        Mode::Concurrent { .. } => lambda_sansio::extension::MANAGED_INSTANCES_INITIALIZATION,
    }
}

/// The Lambda environment variables of PROTOCOL.md.
fn environment(config: &EmulatorConfig, address: SocketAddr) -> Vec<(String, String)> {
    let task_root = config
        .bootstrap
        .as_ref()
        .and_then(|b| std::fs::canonicalize(b).ok())
        .and_then(|b| b.parent().map(|p| p.display().to_string()))
        .unwrap_or_else(|| "/var/task".into());
    let mut env = vec![
        ("_HANDLER".to_owned(), config.handler.clone()),
        ("LAMBDA_TASK_ROOT".to_owned(), task_root.clone()),
        ("LAMBDA_RUNTIME_DIR".to_owned(), task_root),
        ("AWS_LAMBDA_RUNTIME_API".to_owned(), address.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME".to_owned(), config.function_name.clone()),
        ("AWS_LAMBDA_FUNCTION_VERSION".to_owned(), "$LATEST".to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE".to_owned(), config.memory_mb.to_string()),
        ("AWS_LAMBDA_LOG_GROUP_NAME".to_owned(), format!("/aws/lambda/{}", config.function_name)),
        ("AWS_LAMBDA_LOG_STREAM_NAME".to_owned(), "local/[$LATEST]emulator".to_owned()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE".to_owned(), initialization_type(config.mode).to_owned()),
        ("AWS_LAMBDA_LOG_FORMAT".to_owned(), config.log_format.clone()),
        ("AWS_REGION".to_owned(), "us-east-1".to_owned()),
        ("AWS_DEFAULT_REGION".to_owned(), "us-east-1".to_owned()),
    ];
    if let Some(level) = &config.log_level {
        env.push(("AWS_LAMBDA_LOG_LEVEL".to_owned(), level.clone()));
    }
    if let Mode::Concurrent { max } = config.mode {
        env.push(("AWS_LAMBDA_MAX_CONCURRENCY".to_owned(), max.to_string()));
    }
    env.extend(config.env.iter().cloned());
    env
}
