//! HTTP events, sans I/O (feature `http`): the events API Gateway (REST and
//! HTTP APIs), an Application Load Balancer and a Function URL send a
//! function, as [`http::Request`]s, and the [`http::Response`] a handler
//! gives back, as the answer each of them expects.
//!
//! - [`request_from_event`] reads an invocation's payload. The request's
//!   extensions carry the [`EventShape`] (which source sent it, and whether
//!   it used multi-value headers), the [`RequestContext`], the
//!   [`PathParameters`] and the [`StageVariables`].
//! - [`response_to_event`] writes the answer in the shape the request came
//!   in; [`stream_prelude`] starts a streamed HTTP answer for a Function URL
//!   in `RESPONSE_STREAM` mode.
//! - [`HttpInvocation::read`] is what a host does with a payload: a
//!   request for the handler, a 400 for a malformed HTTP event, or a failed
//!   invocation for an event from no HTTP source.
//! - [`event_from_request`] and [`response_from_answer`] go the other way,
//!   for emulators and tests: a plain HTTP request wrapped as one source's
//!   event, and a function's answer read back as an HTTP response.
//!
//! Event shapes are `aws_lambda_events`' types; the rules that are not in
//! them (which source an event came from, paths, query strings, cookies,
//! when a body travels as base64) are here.

mod body;
mod error;
mod invocation;
mod request;
mod response;
mod shape;
mod synth;
mod uri;

pub use body::is_text;
pub use error::HttpEventError;
pub use invocation::HttpInvocation;
pub use request::{request_from_event, PathOptions, PathParameters, RequestContext, StageVariables};
pub use response::{response_to_event, stream_prelude, STREAM_CONTENT_TYPE, STREAM_SEPARATOR};
pub use shape::{EventShape, HttpSource};
pub use synth::{
    event_from_request, gateway_failure, response_from_answer, split_stream_prelude, GatewayFailure,
    SynthContext,
};
