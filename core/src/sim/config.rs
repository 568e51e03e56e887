//! What an exploration is made of: the bounds, the faults the network may
//! inject, how the hosts behave, and the bugs a deliberately faulty client
//! or platform plants.

use crate::runtime::Mode;

/// Kinds of network and platform faults the simulation may inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Faults {
    /// A request never reaches the platform (the client sees a reset). A
    /// streamed response is cut short instead: the platform reads a
    /// truncated body.
    pub lose_request: bool,
    /// A request is answered `500` instead of reaching the platform.
    pub status_500: bool,
    /// An answer is lost after the platform wrote it (the client sees a
    /// reset, the platform cannot know).
    pub drop_answer: bool,
    /// Writing an answer fails (the client is gone): the platform sees it
    /// and calls [`delivery_failed`](crate::platform::PlatformMachine::delivery_failed).
    pub break_delivery: bool,
    /// A parked long poll's connection drops.
    pub disconnect: bool,
    /// An active invocation times out (a later answer gets `410`).
    pub expire: bool,
    /// Shutdown arrives before every invocation is done.
    pub early_shutdown: bool,
}

impl Faults {
    /// No faults.
    pub const NONE: Self = Self {
        lose_request: false,
        status_500: false,
        drop_answer: false,
        break_delivery: false,
        disconnect: false,
        expire: false,
        early_shutdown: false,
    };
    /// Every kind of fault.
    pub const ALL: Self = Self {
        lose_request: true,
        status_500: true,
        drop_answer: true,
        break_delivery: true,
        disconnect: true,
        expire: true,
        early_shutdown: true,
    };
}

/// How the simulated hosts (the handler, the extensions' own code) behave,
/// beyond the default of answering every invocation and acknowledging every
/// event. Each is a legitimate behaviour the machines must handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Hosts {
    /// Even invocations are answered with a streamed response.
    pub streaming: bool,
    /// The buffered response to invocation `r2` is too large: the server in
    /// front of the platform refuses its body (`413`) and the platform ends
    /// the invocation itself.
    pub oversized_response: bool,
    /// The runtime's init fails: it reports an init error instead of polling.
    pub runtime_init_error: bool,
    /// The first extension's init fails (it reports an init error).
    pub extension_init_error: bool,
    /// The first extension fails while handling INVOKE (an exit error).
    pub extension_exit_error: bool,
    /// The first extension asks for a subscription Managed Instances refuse
    /// (a destination off `sandbox.localdomain`); its host treats the
    /// permanent refusal as an init error, as the shipped extension does.
    pub refused_subscription: bool,
    /// The handler tries to answer every invocation a second time; the
    /// machine must refuse it.
    pub answer_twice: bool,
    /// The last extension registers for INVOKE only (and so never gets
    /// SHUTDOWN; it is stopped with the environment).
    pub invoke_only_extension: bool,
    /// The runtime's driver pipelines: the `next` after a buffered answer
    /// goes out on the same connection behind it
    /// ([`RuntimeConfig::pipelining`](crate::runtime::RuntimeConfig::pipelining)).
    pub pipelining: bool,
}

/// A bug planted in a deliberately faulty client or platform, to prove that
/// each property can fail. Planted bugs live here, in the simulation, never
/// in shipped code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bug {
    /// The runtime answers an invocation again after its answer was accepted.
    AnswerTwice,
    /// The first extension polls for events after it has exited.
    PollAfterExit,
    /// The runtime ignores a fatal status on `next` and polls again.
    IgnoreFatal,
    /// The first extension polls for events before registering.
    SkipRegister,
    /// The runtime answers a request id the platform never issued.
    MadeUpRequestId,
    /// The runtime sends each request twice on one connection (a pipelined
    /// `next` behind a buffered answer is the one second request allowed).
    Pipeline,
    /// The first extension's host never finishes SHUTDOWN.
    IgnoreShutdown,
    /// The handler never answers invocation `r1`.
    DropInvocation,
    /// A failed request is resent at once, without waiting for its back-off.
    NoBackoff,
    /// Platform: counts a `next` from the first extension that never came,
    /// as soon as it registered.
    PhantomInitNext,
    /// Platform: counts a `next` from the first extension that never came,
    /// as soon as it got INVOKE.
    PhantomInvokeNext,
    /// Platform: takes a written INVOKE for a failed delivery and sends it
    /// to the first extension again.
    RepeatInvoke,
    /// Platform: never answers the poll of an extension that was busy with
    /// INVOKE when shutdown started.
    SkipBusyShutdown,
    /// Platform: sends SHUTDOWN to an extension registered for INVOKE only.
    ShutdownToInvokeOnly,
    /// Platform: accepts a late answer for an expired id (`202`, not `410`).
    ForgetExpired,
    /// Platform: records an accepted answer twice.
    DoubleOutcome,
    /// The forwarding extension's host calls `next` as soon as INVOKE
    /// arrives, without waiting for the forwarder's flush gate.
    NextBeforeFlush,
    /// The forwarding extension's host exits as soon as SHUTDOWN arrives,
    /// without waiting for the forwarder.
    ExitBeforeFlush,
}

/// What to simulate.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SimConfig {
    /// Classic or Managed Instances.
    pub mode: Mode,
    /// Invocations the platform delivers.
    pub invocations: u8,
    /// External extensions (INVOKE and SHUTDOWN in classic mode, SHUTDOWN
    /// only in Managed Instances mode).
    pub extensions: u8,
    /// Whether the first extension subscribes to the Telemetry API.
    pub subscribe: bool,
    /// Whether the first extension (subscribed) forwards its records to a
    /// sink through a [`Forwarder`](crate::forward::Forwarder), holding its
    /// `next` and its exit on the forwarder's gate as the shipped extension
    /// does.
    pub forward: bool,
    /// The most faults injected on one path.
    pub max_faults: u8,
    /// Which faults may be injected.
    pub faults: Faults,
    /// How the hosts behave.
    pub hosts: Hosts,
    /// A planted bug, if any.
    pub bug: Option<Bug>,
}

impl SimConfig {
    /// A fault-free classic configuration.
    pub fn classic(invocations: u8, extensions: u8) -> Self {
        Self {
            mode: Mode::Classic,
            invocations,
            extensions,
            subscribe: false,
            forward: false,
            max_faults: 0,
            faults: Faults::NONE,
            hosts: Hosts::default(),
            bug: None,
        }
    }
}
