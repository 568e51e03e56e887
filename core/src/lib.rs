//! Sans-IO state machines for the AWS Lambda Runtime, Extensions and
//! Telemetry APIs.
//!
//! This crate does no I/O, spawns no threads, reads no clock and needs no
//! async runtime. Its machines take the platform's answers as
//! `http::Response<Bytes>` values and hand back the requests to send as
//! `http::Request<Bytes>`. A driver (the `lambda-sansio-hyper` and
//! `lambda-sansio-blocking` crates, or your own) moves bytes; every protocol
//! decision (what to send next, which status is fatal, when to retry) is made
//! here, once, and is the same for every driver.
//!
//! - [`runtime::RuntimeMachine`]: the custom runtime's `next` → invoke →
//!   answer loop, classic or concurrent (Managed Instances).
//! - [`extension::ExtensionMachine`]: register → subscribe → ready → events →
//!   shutdown.
//! - [`telemetry`]: subscriptions and the batches delivered to a listener.
//! - [`runtime::requests`], [`extension::requests`]: the raw request builders,
//!   for hosts that want the wire format without a machine.
//! - `http1` (feature `http1`): an incremental HTTP/1.1 codec, for hosts that
//!   move bytes themselves; both transports speak through it.
//!
//! # The run loop
//!
//! Every machine is driven the same way:
//!
//! 1. Drain [`poll_request`](runtime::RuntimeMachine::poll_request): send each
//!    [`Outbound`] on the connection its [`Token`] names (one keep-alive
//!    connection per token; never a read timeout on a long poll, see
//!    [`Call::is_long_poll`]). Hand the answer back with
//!    `handle_response(token, response)`, or a failure with
//!    `handle_transport_error(token, error)`.
//! 2. `poll_timeout()` says when the machine next needs the time (a retry's
//!    back-off ending); at or after it, call `handle_timeout(now)`. An early
//!    or spurious call changes nothing, so a driver cannot stall or fail by
//!    waking at the wrong moment. Time is always passed in (`now`, a
//!    monotonic `Instant`): retries happen only this way, so a dead platform
//!    cannot make a driver spin.
//! 3. Drain `poll_event` and act on each event: run the handler for an
//!    invocation and answer it, close an extension event with
//!    `done(outcome)`, or exit. Everything else in a lifecycle (subscribing,
//!    finishing init, acknowledging event types this version does not know)
//!    the machines do by themselves.
//!
//! A fatal condition is sticky: the machine emits one `Exit` event, every
//! later call returns the same error and `poll_request` returns `None`.
//! Misusing a machine (answering an unknown invocation, answering twice) is a
//! typed, non-fatal error, never a panic.
//!
//! # Example: a whole lifecycle on canned answers
//!
//! ```
//! use bytes::Bytes;
//! use lambda_sansio::extension::{EventType, ExtensionConfig, ExtensionEvent, ExtensionMachine, ExitReason};
//! use lambda_sansio::runtime::{RuntimeConfig, RuntimeEvent, RuntimeMachine};
//! use lambda_sansio::{ApiAddress, ExtensionName};
//!
//! fn answer(status: u16, headers: &[(&str, &str)], body: &'static str) -> http::Response<Bytes> {
//!     let mut response = http::Response::builder().status(status);
//!     for (name, value) in headers {
//!         response = response.header(*name, *value);
//!     }
//!     response.body(Bytes::from_static(body.as_bytes())).unwrap()
//! }
//!
//! let address = ApiAddress::parse("127.0.0.1:9001")?;
//!
//! // An extension registers, then finishes init by itself and waits for events.
//! let name = ExtensionName::new("my-extension")?;
//! let mut ext = ExtensionMachine::new(ExtensionConfig::new(address.clone(), name, &[EventType::Invoke, EventType::Shutdown]));
//! let register = ext.poll_request().unwrap();
//! assert_eq!(register.request.uri().path(), "/2020-01-01/extension/register");
//! ext.handle_response(register.token, answer(200, &[("lambda-extension-identifier", "ext-1")], ""))?;
//! let ext_next = ext.poll_request().unwrap();
//! assert_eq!(ext_next.request.uri().path(), "/2020-01-01/extension/event/next");
//!
//! // The runtime polls for an invocation and answers it.
//! let mut rt = RuntimeMachine::new(RuntimeConfig::new(address));
//! let next = rt.poll_request().unwrap();
//! rt.handle_response(next.token, answer(200, &[("lambda-runtime-aws-request-id", "req-1")], r#"{"n":1}"#))?;
//! let Some(RuntimeEvent::Invoke(invocation)) = rt.poll_event() else { unreachable!() };
//! rt.respond(&invocation.request_id, Bytes::from_static(b"\"done\""))?;
//! let response = rt.poll_request().unwrap();
//! assert_eq!(response.request.uri().path(), "/2018-06-01/runtime/invocation/req-1/response");
//! rt.handle_response(response.token, answer(202, &[], r#"{"status":"OK"}"#))?;
//! assert!(matches!(rt.poll_event(), Some(RuntimeEvent::Answered { .. })));
//! assert!(rt.poll_request().is_some(), "the runtime polls for the next invocation");
//!
//! // The extension sees the invocation, then the shutdown.
//! ext.handle_response(ext_next.token, answer(200, &[], r#"{"eventType":"INVOKE","requestId":"req-1","deadlineMs":1}"#))?;
//! assert!(matches!(ext.poll_event(), Some(ExtensionEvent::Invoke(_))));
//! ext.done(Ok(()))?;
//! let ext_next = ext.poll_request().unwrap();
//! ext.handle_response(ext_next.token, answer(200, &[], r#"{"eventType":"SHUTDOWN","shutdownReason":"spindown","deadlineMs":2}"#))?;
//! assert!(matches!(ext.poll_event(), Some(ExtensionEvent::Shutdown(_))));
//! ext.done(Ok(()))?;
//! assert_eq!(ext.poll_event(), Some(ExtensionEvent::Exit(ExitReason::Shutdown)));
//! assert!(ext.poll_request().is_none());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

mod address;
mod attempt;
mod base64;
pub mod context;
pub mod driver;
mod exchange;
pub mod extension;
pub mod forward;
pub mod headers;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "http1")]
pub mod http1;
mod ids;
#[cfg(feature = "tracing")]
pub mod logging;
pub mod platform;
mod report;
mod retry;
pub mod runtime;
#[cfg(feature = "sim")]
pub mod sim;
pub mod telemetry;
mod wire;

pub use address::{AddressError, ApiAddress};
pub use exchange::{BodyMode, Call, Outbound, Token, TransportError, TransportErrorKind};
pub use ids::{DeadlineMs, ExtensionId, ExtensionName, IdError, InvocationId, RequestId, MAX_ID_LEN};
pub use report::{ErrorReport, ServerError, MAX_XRAY_CAUSE_LEN};
pub use retry::RetryPolicy;
pub use wire::BuildError;
