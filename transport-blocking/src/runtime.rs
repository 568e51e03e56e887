//! The runtime driver: moves the core [`RuntimeMachine`]'s requests over
//! blocking connections and runs the handler. No protocol decisions here.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Instant;

use bytes::Bytes;
use lambda_sansio::context::{Context, HandlerError};
use lambda_sansio::driver::{checked, runtime_exit, runtime_outcome, runtime_pipelined_outcome, RunError};
use lambda_sansio::runtime::{Mode, RuntimeConfig, RuntimeEvent, RuntimeMachine};
use lambda_sansio::{BodyMode, ErrorReport, Outbound, RequestId, Token, TransportError};

use crate::handler::{call, stream_frames, Chunks, Response};
use crate::http1::Connection;

/// Largest answer body read from the platform: an event is at most
/// 6 MiB + 100 bytes; a little slack for headers of oversized emulators.
pub const MAX_EVENT: usize = 6 * 1024 * 1024 + 4096;

/// The runtime's settings from the Lambda environment
/// (`AWS_LAMBDA_RUNTIME_API`, `AWS_LAMBDA_MAX_CONCURRENCY`), with
/// [`pipelining`](RuntimeConfig::pipelining) on: this transport pipelines in
/// classic mode.
pub fn config_from_env() -> Result<RuntimeConfig, RunError> {
    let config = lambda_sansio::driver::runtime_config(|name| std::env::var(name).ok())?;
    Ok(RuntimeConfig { pipelining: true, ..config })
}

/// Runs `handler` for every invocation, configured from the environment:
/// the one way to run a function. Returns only when the runtime must exit.
/// The handler answers anything that converts to a [`Response`]: `Bytes`
/// (sent as `application/octet-stream`), or a `Response`: typed (the
/// [`json`](crate::json) helper answers `application/json`) or streamed.
pub fn run<F, R>(handler: F) -> Result<(), RunError>
where
    F: Fn(Bytes, &Context) -> Result<R, HandlerError> + Send + Sync + 'static,
    R: Into<Response>,
{
    run_with(config_from_env()?, handler)
}

/// Reports an initialisation failure; `Ok` once Lambda accepted it (the
/// process should then exit non-zero), an error when it could not be
/// delivered.
pub fn report_init_error(report: ErrorReport) -> Result<(), RunError> {
    let machine = RuntimeMachine::init_failed(config_from_env()?, report);
    let never =
        |_: Bytes, _: &Context| -> Result<Response, HandlerError> { Ok(Response::Buffered(Bytes::new())) };
    match drive_inline(machine, &never) {
        Err(RunError::InitFailed) => Ok(()),
        other => other,
    }
}

/// Runs `handler` with an explicit configuration: inline on this thread in
/// classic mode, with one connection and one handler thread per slot in
/// concurrent mode. A handler that returns [`Response::Streamed`] streams.
/// [`RuntimeConfig::pipelining`] is kept in classic mode; concurrent mode
/// sends one request at a time per connection and turns it off.
pub fn run_with<F, R>(mut config: RuntimeConfig, handler: F) -> Result<(), RunError>
where
    F: Fn(Bytes, &Context) -> Result<R, HandlerError> + Send + Sync + 'static,
    R: Into<Response>,
{
    let handler = move |payload, context: &Context| handler(payload, context).map(Into::into);
    let mode = config.mode;
    config.pipelining &= mode == Mode::Classic;
    let machine = RuntimeMachine::new(config);
    match mode {
        Mode::Classic => drive_inline(machine, &handler),
        Mode::Concurrent { .. } => drive_pool(machine, Arc::new(handler)),
    }
}

/// Hands the answer to the machine; a stream waits in `streams` until its
/// request comes out of the machine.
fn answer(
    machine: &mut RuntimeMachine,
    streams: &mut Streams,
    id: RequestId,
    result: Result<Response, ErrorReport>,
) -> Result<(), RunError> {
    checked(match result {
        Ok(Response::Buffered(body)) => machine.respond(&id, body),
        Ok(Response::Typed { content_type, body }) => {
            machine.respond_with_content_type(&id, body, Some(content_type))
        }
        Ok(Response::Streamed { content_type, chunks }) => match machine.respond_streaming(&id, content_type)
        {
            Ok(token) => {
                streams.keep(token, chunks);
                Ok(())
            }
            Err(error) => Err(error),
        },
        Err(report) => machine.respond_error(&id, report),
    })
}

fn log_event(event: &RuntimeEvent) {
    if let Some(line) = lambda_sansio::driver::runtime_event_line(event) {
        lambda_sansio::driver::diagnostic(&line);
    }
}

fn exchange(
    connection: &mut Connection,
    out: &Outbound,
    stream: Option<Chunks>,
) -> Result<http::Response<Bytes>, TransportError> {
    match (out.body, stream) {
        (BodyMode::Streamed, Some(chunks)) => {
            connection.send_streaming(&out.request, &mut stream_frames(chunks))
        }
        (BodyMode::Streamed, None) => connection.send_streaming(&out.request, &mut std::iter::empty()),
        (BodyMode::Buffered, _) => connection.send(&out.request),
    }
}

/// The chunks of streamed answers, kept under the token their request goes
/// out on until it does.
#[derive(Default)]
struct Streams(Vec<Option<Chunks>>);

impl Streams {
    fn keep(&mut self, token: Token, chunks: Chunks) {
        let index = usize::from(token.0);
        if self.0.len() <= index {
            self.0.resize_with(index + 1, || None);
        }
        self.0[index] = Some(chunks);
    }

    fn take(&mut self, out: &Outbound) -> Option<Chunks> {
        match out.body {
            BodyMode::Streamed => self.0.get_mut(usize::from(out.token.0)).and_then(Option::take),
            BodyMode::Buffered => None,
        }
    }
}

/// Classic mode: one thread, one connection, the handler called inline.
///
/// The loop drains the machine in a fixed order, one item per turn: a
/// request to send, else an event to act on, else the time it waits for;
/// with none of the three and no exit, the machine has stalled (a bug,
/// reported rather than spun on).
fn drive_inline<F>(mut machine: RuntimeMachine, handler: &F) -> Result<(), RunError>
where
    F: Fn(Bytes, &Context) -> Result<Response, HandlerError>,
{
    let exports_trace = machine.exports_trace_id_env();
    let mut connection = None;
    let mut streams = Streams::default();
    loop {
        if let Some(out) = machine.poll_request() {
            let connection = connection.get_or_insert_with(|| {
                Connection::new(
                    out.request.uri().authority().map_or("", |a| a.as_str()).to_owned(),
                    MAX_EVENT,
                )
            });
            match machine.poll_pipelined(&out) {
                None => {
                    let result = exchange(connection, &out, streams.take(&out));
                    checked(runtime_outcome(&mut machine, out.token, result, Instant::now()))?;
                }
                Some(next) => {
                    let (first, second) = connection.send_pipelined(&out.request, &next.request);
                    checked(runtime_outcome(&mut machine, out.token, first, Instant::now()))?;
                    checked(runtime_pipelined_outcome(&mut machine, next.token, second, Instant::now()))?;
                }
            }
        } else if let Some(event) = machine.poll_event() {
            match event {
                RuntimeEvent::Invoke(invocation) => {
                    if exports_trace {
                        set_trace_env(invocation.trace_id.as_deref());
                    }
                    let context = Context::of(&invocation);
                    let result = call(handler, invocation.payload, &context);
                    answer(&mut machine, &mut streams, invocation.request_id, result)?;
                }
                RuntimeEvent::Exit(reason) => return runtime_exit(reason),
                other => log_event(&other),
            }
        } else if let Some(due) = machine.poll_timeout() {
            thread::sleep(due.saturating_duration_since(Instant::now()));
            machine.handle_timeout(Instant::now());
        } else {
            return Err(RunError::Stalled);
        }
    }
}

/// Sets `_X_AMZN_TRACE_ID` for the invocation (classic mode only, where the
/// process runs one invocation at a time).
fn set_trace_env(trace_id: Option<&str>) {
    match trace_id {
        Some(trace) => std::env::set_var("_X_AMZN_TRACE_ID", trace),
        None => std::env::remove_var("_X_AMZN_TRACE_ID"),
    }
}

enum Input {
    Io(Token, Result<http::Response<Bytes>, TransportError>),
    Done(RequestId, Result<Response, ErrorReport>),
}

/// Concurrent mode: this thread owns the machine; one I/O thread per slot
/// owns that slot's connection; a pool of as many handler threads runs the
/// handler.
fn drive_pool<F>(mut machine: RuntimeMachine, handler: Arc<F>) -> Result<(), RunError>
where
    F: Fn(Bytes, &Context) -> Result<Response, HandlerError> + Send + Sync + 'static,
{
    let mut streams = Streams::default();
    let slots = usize::from(machine.mode().slots());
    let (inputs, results) = mpsc::channel::<Input>();
    let mut workers: Vec<mpsc::Sender<(Outbound, Option<Chunks>)>> = Vec::with_capacity(slots);
    for index in 0..slots {
        let (send, receive) = mpsc::channel::<(Outbound, Option<Chunks>)>();
        let inputs = inputs.clone();
        thread::Builder::new()
            .name(format!("lambda-io-{index}"))
            .spawn(move || {
                let mut connection: Option<Connection> = None;
                for (out, stream) in receive {
                    let authority = out.request.uri().authority().map_or("", |a| a.as_str()).to_owned();
                    let connection = connection.get_or_insert_with(|| Connection::new(authority, MAX_EVENT));
                    let result = exchange(connection, &out, stream);
                    if inputs.send(Input::Io(out.token, result)).is_err() {
                        return;
                    }
                }
            })
            .map_err(RunError::Thread)?;
        workers.push(send);
    }
    let (jobs, job_queue) = mpsc::channel::<(RequestId, Bytes, Context)>();
    let job_queue = Arc::new(Mutex::new(job_queue));
    for index in 0..slots {
        let (job_queue, inputs, handler) = (Arc::clone(&job_queue), inputs.clone(), Arc::clone(&handler));
        thread::Builder::new()
            .name(format!("lambda-handler-{index}"))
            .spawn(move || loop {
                let job = job_queue.lock().map_or(None, |queue| queue.recv().ok());
                let Some((id, payload, context)) = job else { return };
                if inputs.send(Input::Done(id, call(handler.as_ref(), payload, &context))).is_err() {
                    return;
                }
            })
            .map_err(RunError::Thread)?;
    }
    // The same drain order as classic mode; what the machine waits for
    // comes from the I/O and handler threads, or from the clock.
    loop {
        if let Some(out) = machine.poll_request() {
            let stream = streams.take(&out);
            let worker = workers.get(usize::from(out.token.0)).ok_or(RunError::Stalled)?;
            worker.send((out, stream)).map_err(|_| RunError::Stalled)?;
            continue;
        }
        if let Some(event) = machine.poll_event() {
            match event {
                RuntimeEvent::Invoke(invocation) => {
                    let context = Context::of(&invocation);
                    jobs.send((invocation.request_id, invocation.payload, context))
                        .map_err(|_| RunError::Stalled)?;
                }
                RuntimeEvent::Exit(reason) => return runtime_exit(reason),
                other => log_event(&other),
            }
            continue;
        }
        let input = match machine.poll_timeout() {
            Some(due) => match results.recv_timeout(due.saturating_duration_since(Instant::now())) {
                Ok(input) => input,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    machine.handle_timeout(Instant::now());
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            },
            None => match results.recv() {
                Ok(input) => input,
                Err(_) => break,
            },
        };
        match input {
            Input::Io(token, result) => {
                checked(runtime_outcome(&mut machine, token, result, Instant::now()))?
            }
            Input::Done(id, result) => answer(&mut machine, &mut streams, id, result)?,
        }
    }
    machine.exit_reason().cloned().map_or(Ok(()), runtime_exit)
}
