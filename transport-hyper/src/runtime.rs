//! The async runtime driver: the core [`RuntimeMachine`] over hyper
//! connections, handlers run as tokio tasks. No protocol decisions here.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::HeaderValue;
use lambda_sansio::context::{panic_report, Context, HandlerError};
use lambda_sansio::driver::{checked, runtime_exit, runtime_outcome, runtime_pipelined_outcome, RunError};
use lambda_sansio::runtime::{Mode, RuntimeConfig, RuntimeEvent, RuntimeMachine};
use lambda_sansio::{BodyMode, ErrorReport, Outbound, RequestId, Token, TransportError};
use tokio::sync::mpsc;

use crate::client::{Chunks, Client, MAX_EVENT};

/// What a handler answers.
#[derive(Debug)]
pub enum Response {
    /// The whole payload at once (up to 6 MiB), sent as
    /// `application/octet-stream`.
    Buffered(Bytes),
    /// The whole payload at once, labelled with its content type (the
    /// [`json`] helper answers `application/json`).
    Typed {
        /// Its content type.
        content_type: HeaderValue,
        /// The payload.
        body: Bytes,
    },
    /// A streamed response (up to 200 MB), sent as the chunks arrive.
    Streamed {
        /// Its content type.
        content_type: Option<HeaderValue>,
        /// The chunks; an `Err` ends the stream with the error in trailers.
        chunks: Chunks,
    },
}

impl From<Bytes> for Response {
    fn from(payload: Bytes) -> Self {
        Self::Buffered(payload)
    }
}

impl Response {
    /// A payload labelled `application/json`.
    pub fn json(body: Bytes) -> Self {
        Self::Typed { content_type: HeaderValue::from_static("application/json"), body }
    }
}

/// The runtime's settings from the Lambda environment
/// (`AWS_LAMBDA_RUNTIME_API`, `AWS_LAMBDA_MAX_CONCURRENCY`), with
/// [`pipelining`](RuntimeConfig::pipelining) on: this transport pipelines in
/// classic mode.
pub fn config_from_env() -> Result<RuntimeConfig, RunError> {
    let config = lambda_sansio::driver::runtime_config(|name| std::env::var(name).ok())?;
    Ok(RuntimeConfig { pipelining: true, ..config })
}

/// Runs the async `handler` for every invocation, configured from the
/// environment: the one way to run a function. Returns only when the
/// runtime must exit. The handler answers anything that converts to a
/// [`Response`]: `Bytes` (sent as `application/octet-stream`), or a
/// `Response`: typed (the [`json`] helper answers `application/json`) or
/// streamed.
pub async fn run<F, Fut, R>(handler: F) -> Result<(), RunError>
where
    F: Fn(Bytes, Context) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, HandlerError>> + Send + 'static,
    R: Into<Response>,
{
    run_with(config_from_env()?, handler).await
}

/// Reports an initialisation failure; `Ok` once Lambda accepted it (the
/// process should then exit non-zero), an error when it could not be
/// delivered.
pub async fn report_init_error(report: ErrorReport) -> Result<(), RunError> {
    let machine = RuntimeMachine::init_failed(config_from_env()?, report);
    let never = Arc::new(|_: Bytes, _: Context| async { Ok(Response::Buffered(Bytes::new())) });
    match drive(machine, never).await {
        Err(RunError::InitFailed) => Ok(()),
        other => other,
    }
}

/// Runs `handler` with an explicit configuration. In concurrent mode up to
/// `max` handlers run at once, each slot on its own connection, one request
/// at a time. [`RuntimeConfig::pipelining`] is kept in classic mode;
/// concurrent mode turns it off.
pub async fn run_with<F, Fut, R>(mut config: RuntimeConfig, handler: F) -> Result<(), RunError>
where
    F: Fn(Bytes, Context) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, HandlerError>> + Send + 'static,
    R: Into<Response>,
{
    let handler = Arc::new(handler);
    let buffered = move |payload, context| {
        let call = handler(payload, context);
        async move { call.await.map(Into::into) }
    };
    config.pipelining &= config.mode == Mode::Classic;
    drive(RuntimeMachine::new(config), Arc::new(buffered)).await
}

enum Input {
    Io(Token, Client, Result<http::Response<Bytes>, TransportError>),
    Done(RequestId, Result<Response, ErrorReport>),
}

/// The driver loop. It drains the machine in a fixed order, one item per
/// turn: a request to send, else an event to act on, else it waits for what
/// the machine waits for: an exchange or handler finishing, or the instant
/// of `poll_timeout`, whichever comes first. In classic mode (one
/// invocation at a time) exchanges and the handler run inline, so an
/// invocation costs no task; in concurrent mode each runs as a task.
async fn drive<F, Fut>(mut machine: RuntimeMachine, handler: Arc<F>) -> Result<(), RunError>
where
    F: Fn(Bytes, Context) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response, HandlerError>> + Send + 'static,
{
    let inline = machine.mode() == Mode::Classic;
    let exports_trace = machine.exports_trace_id_env();
    let mut slots = Slots::new(machine.mode().slots());
    let (inputs, mut pending) = mpsc::unbounded_channel::<Input>();
    loop {
        if let Some(out) = machine.poll_request() {
            // Pipelining is on in classic mode only, where exchanges run inline.
            if let Some(next) = machine.poll_pipelined(&out) {
                slots.pipelined(&mut machine, out, next).await?;
                continue;
            }
            let work = exchange(slots.client_for(&out), slots.stream_for(&out), out);
            if inline {
                slots.feed(&mut machine, work.await)?;
            } else {
                let inputs = inputs.clone();
                // The loop is gone only when the runtime has stopped.
                tokio::spawn(async move { inputs.send(work.await) });
            }
            continue;
        }
        if let Some(event) = machine.poll_event() {
            match event {
                RuntimeEvent::Invoke(invocation) => {
                    if exports_trace {
                        set_trace_env(invocation.trace_id.as_deref());
                    }
                    let context = Context::of(&invocation);
                    #[cfg(feature = "tracing")]
                    let span = lambda_sansio::logging::invocation_span(&invocation.request_id);
                    let call = {
                        #[cfg(feature = "tracing")]
                        let _entered = span.enter();
                        handler(invocation.payload, context)
                    };
                    #[cfg(feature = "tracing")]
                    let call = tracing::Instrument::instrument(call, span);
                    let work = invoke(call, invocation.request_id);
                    if inline {
                        slots.feed(&mut machine, work.await)?;
                    } else {
                        let inputs = inputs.clone();
                        tokio::spawn(async move { inputs.send(work.await) });
                    }
                }
                RuntimeEvent::Exit(reason) => return runtime_exit(reason),
                other => log_event(&other),
            }
            continue;
        }
        let due = machine.poll_timeout();
        let input = tokio::select! {
            input = pending.recv() => input,
            () = sleep_until(due) => {
                machine.handle_timeout(Instant::now());
                continue;
            }
        };
        let Some(input) = input else { return Err(RunError::Stalled) };
        slots.feed(&mut machine, input)?;
    }
}

/// What each slot holds between its requests: its connection, and the
/// chunks of a streamed answer until its request goes out.
struct Slots {
    clients: Vec<Option<Client>>,
    streams: Vec<Option<Chunks>>,
}

impl Slots {
    fn new(count: u16) -> Self {
        Self { clients: (0..count).map(|_| None).collect(), streams: (0..count).map(|_| None).collect() }
    }

    fn client_for(&mut self, out: &Outbound) -> Client {
        let authority = out.request.uri().authority().map_or("", |a| a.as_str()).to_owned();
        self.clients
            .get_mut(usize::from(out.token.0))
            .and_then(Option::take)
            .unwrap_or_else(|| Client::new(authority, MAX_EVENT))
    }

    fn stream_for(&mut self, out: &Outbound) -> Option<Chunks> {
        match out.body {
            BodyMode::Streamed => self.streams.get_mut(usize::from(out.token.0)).and_then(Option::take),
            BodyMode::Buffered => None,
        }
    }

    /// Sends `next` pipelined behind the buffered answer `out`, on its
    /// connection, and hands both outcomes to the machine.
    async fn pipelined(
        &mut self,
        machine: &mut RuntimeMachine,
        out: Outbound,
        next: Outbound,
    ) -> Result<(), RunError> {
        let mut client = self.client_for(&out);
        let (first, second) = client.send_pipelined(&out.request, &next.request).await;
        self.feed(machine, Input::Io(out.token, client, first))?;
        checked(runtime_pipelined_outcome(machine, next.token, second, Instant::now()))
    }

    /// Hands what finished to the machine.
    fn feed(&mut self, machine: &mut RuntimeMachine, input: Input) -> Result<(), RunError> {
        match input {
            Input::Io(token, client, result) => {
                if let Some(slot) = self.clients.get_mut(usize::from(token.0)) {
                    *slot = Some(client);
                }
                checked(runtime_outcome(machine, token, result, Instant::now()))
            }
            Input::Done(id, Ok(Response::Buffered(body))) => checked(machine.respond(&id, body)),
            Input::Done(id, Ok(Response::Typed { content_type, body })) => {
                checked(machine.respond_with_content_type(&id, body, Some(content_type)))
            }
            Input::Done(id, Ok(Response::Streamed { content_type, chunks })) => {
                let token = machine.respond_streaming(&id, content_type);
                if let Some(kept) = token.as_ref().ok().and_then(|t| self.streams.get_mut(usize::from(t.0))) {
                    *kept = Some(chunks);
                }
                checked(token.map(|_| ()))
            }
            Input::Done(id, Err(report)) => checked(machine.respond_error(&id, report)),
        }
    }
}

/// Sends `out` on `client` (streaming `stream` when it is a streamed answer).
async fn exchange(mut client: Client, stream: Option<Chunks>, out: Outbound) -> Input {
    let result = match (out.body, stream) {
        (BodyMode::Streamed, Some(chunks)) => client.send_streaming(out.request, chunks).await,
        (BodyMode::Streamed, None) => {
            let (_, empty) = tokio::sync::mpsc::channel(1);
            client.send_streaming(out.request, empty).await
        }
        (BodyMode::Buffered, _) => client.send(out.request).await,
    };
    Input::Io(out.token, client, result)
}

/// Runs a handler's future for invocation `id`; a panic becomes its report.
async fn invoke<Fut>(call: Fut, id: RequestId) -> Input
where
    Fut: Future<Output = Result<Response, HandlerError>>,
{
    let result = match CatchUnwind(Box::pin(call)).await {
        Ok(Ok(response)) => Ok(response),
        Ok(Err(HandlerError(report))) => Err(report),
        Err(payload) => Err(panic_report(payload.as_ref())),
    };
    Input::Done(id, result)
}

/// A future that turns a panic while polling into an `Err` with its payload.
struct CatchUnwind<Fut>(std::pin::Pin<Box<Fut>>);

impl<Fut: Future> Future for CatchUnwind<Fut> {
    type Output = Result<Fut::Output, Box<dyn std::any::Any + Send>>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let inner = &mut self.0;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.as_mut().poll(cx))) {
            Ok(std::task::Poll::Ready(output)) => std::task::Poll::Ready(Ok(output)),
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Err(payload) => std::task::Poll::Ready(Err(payload)),
        }
    }
}

fn log_event(event: &RuntimeEvent) {
    if let Some(line) = lambda_sansio::driver::runtime_event_line(event) {
        lambda_sansio::driver::diagnostic(&line);
    }
}

/// Waits until `due`, or forever when there is nothing to wait for.
async fn sleep_until(due: Option<Instant>) {
    match due {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// Sets `_X_AMZN_TRACE_ID` (classic mode only: one invocation at a time).
fn set_trace_env(trace_id: Option<&str>) {
    match trace_id {
        Some(trace) => std::env::set_var("_X_AMZN_TRACE_ID", trace),
        None => std::env::remove_var("_X_AMZN_TRACE_ID"),
    }
}

/// Wraps an async JSON handler as a bytes handler: the payload is
/// deserialised into `T`, the result serialised and sent as
/// `application/json`. An event that does not match `T` fails the
/// invocation as `Runtime.InvalidEvent`, naming where and why
/// ([`decode_event`](lambda_sansio::context::decode_event)).
pub fn json<T, R, F, Fut>(
    handler: F,
) -> impl Fn(Bytes, Context) -> std::pin::Pin<Box<dyn Future<Output = Result<Response, HandlerError>> + Send>>
       + Send
       + Sync
       + 'static
where
    T: serde::de::DeserializeOwned + Send + 'static,
    R: serde::Serialize + 'static,
    F: Fn(T, Context) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, HandlerError>> + Send + 'static,
{
    let handler = Arc::new(handler);
    move |payload: Bytes, context: Context| {
        let handler = Arc::clone(&handler);
        Box::pin(async move {
            let event: T = lambda_sansio::context::decode_event(&payload)?;
            let response = handler(event, context).await?;
            Ok(Response::json(lambda_sansio::context::encode_result(&response)?))
        })
    }
}
