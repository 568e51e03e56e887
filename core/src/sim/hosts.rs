//! The scripted hosts of the simulation: how each client reacts to its
//! machine's events (a handler that answers, extensions that acknowledge
//! and exit on SHUTDOWN, each with the behaviours [`Hosts`](super::Hosts)
//! turns on), and the bugs a deliberately faulty client plants.

use bytes::Bytes;

use super::config::{Bug, SimConfig};
use super::world::{address, client_of, Violation, World, BUG_TOKEN, RUNTIME};
use crate::extension::{
    requests as ext_requests, ExitReason as ExtExit, ExtensionError, ExtensionEvent, ShutdownReason,
};
use crate::forward::ForwarderEvent;
use crate::runtime::{requests as rt_requests, ExitReason as RtExit, RuntimeError, RuntimeEvent};
use crate::telemetry::{Buffering, RecordCategory, Subscription, SubscriptionApi};
use crate::{Call, ErrorReport, RequestId};

impl World {
    /// Lets every client react to what it received, until nothing changes.
    pub(super) fn settle_all(&mut self, config: &SimConfig) {
        for index in 0..self.extensions.len() {
            if !self.extensions[index].killed {
                self.settle_extension(config, index);
            }
        }
        let extensions_ready = self.extensions.iter().all(|e| e.registered || e.stopped());
        if !self.runtime.started && extensions_ready {
            self.runtime.started = true;
        }
        if self.runtime.started && !self.runtime.killed {
            self.settle_runtime();
        }
        // The platform may have answered parked polls meanwhile.
        self.pump_platform();
    }

    fn settle_runtime(&mut self) {
        loop {
            let mut moved = false;
            while let Some(event) = self.runtime.machine.poll_event() {
                moved = true;
                match event {
                    RuntimeEvent::Invoke(invocation) => {
                        self.runtime.open.insert(invocation.request_id.clone());
                        if self.bug == Some(Bug::MadeUpRequestId) {
                            self.answer_made_up_id();
                        }
                        self.runtime.handling.insert(invocation.request_id);
                    }
                    RuntimeEvent::Answered { request_id } | RuntimeEvent::StreamLost { request_id, .. } => {
                        self.runtime.open.remove(&request_id);
                        if self.bug == Some(Bug::AnswerTwice) {
                            self.answer_again(&request_id);
                        }
                    }
                    RuntimeEvent::Rejected { request_id, replaced, .. } => {
                        if !replaced {
                            self.runtime.open.remove(&request_id);
                        }
                    }
                    RuntimeEvent::InvocationUnreadable { request_id, .. } => {
                        self.runtime.open.insert(request_id);
                    }
                    RuntimeEvent::Exit(reason) => {
                        self.fatal_exit |= matches!(reason, RtExit::Fatal(_));
                        if matches!(reason, RtExit::Fatal(RuntimeError::Transport { .. })) {
                            self.check_gave_up(RUNTIME);
                        }
                        // After an init error the loss is by design; any
                        // other stop must trace back to a fault that loses
                        // work (a 500, a lost answer, retries used up).
                        self.disrupted |= matches!(reason, RtExit::InitErrorReported);
                        self.kill_runtime();
                        self.start_shutdown(ShutdownReason::Failure);
                    }
                }
            }
            while let Some(out) = self.runtime.machine.poll_request() {
                moved = true;
                let request = out.request;
                self.stage(RUNTIME, out.token.0, out.call, &request);
                if self.bug == Some(Bug::Pipeline) {
                    self.stage(RUNTIME, out.token.0, out.call, &request);
                }
            }
            if !moved {
                return;
            }
        }
    }

    fn answer_again(&mut self, id: &RequestId) {
        let Some(address) = address() else { return };
        if let Ok(request) = rt_requests::response(&address, id, None, Bytes::from_static(b"again"), None) {
            self.stage(RUNTIME, BUG_TOKEN, Call::RuntimeResponse, &request);
        }
    }

    fn answer_made_up_id(&mut self) {
        let Some(address) = address() else { return };
        let Ok(made_up) = RequestId::new("made-up") else { return };
        if let Ok(request) = rt_requests::response(&address, &made_up, None, Bytes::new(), None) {
            self.stage(RUNTIME, BUG_TOKEN, Call::RuntimeResponse, &request);
        }
    }

    /// The handler finishes invocation `id`: odd invocations fail, even ones
    /// succeed (streamed when the hosts say so), so both answer kinds are
    /// explored.
    pub(super) fn handle(&mut self, id: &RequestId) {
        if !self.runtime.handling.remove(id) {
            return;
        }
        if self.bug == Some(Bug::DropInvocation) && id.as_str() == "r1" {
            return;
        }
        let odd = id.as_str().bytes().last().is_some_and(|b| b % 2 == 1);
        let machine = &mut self.runtime.machine;
        let result = if odd {
            machine.respond_error(id, ErrorReport::new("Function.Odd", "odd invocation"))
        } else if self.hosts.streaming {
            machine.respond_streaming(id, None).map(|_| ())
        } else {
            machine.respond(id, Bytes::from_static(b"\"ok\""))
        };
        self.flag_if(result.is_err(), Violation::HostRefused);
        if self.hosts.answer_twice {
            let again = self.runtime.machine.respond(id, Bytes::from_static(b"\"again\""));
            self.flag_if(again.is_ok(), Violation::SecondAnswerTaken);
        }
    }

    fn settle_extension(&mut self, config: &SimConfig, index: usize) {
        let client = client_of(index);
        loop {
            let mut moved = false;
            while let Some(event) = self.extensions[index].machine.poll_event() {
                moved = true;
                let first = index == 0;
                // The host does what the shipped extension does: its work,
                // then `done`; the machine decides what follows.
                if first && self.forwarding() {
                    let result = self.forwarder_host_event(&event);
                    self.flag_if(result.is_err(), Violation::HostRefused);
                    if !matches!(event, ExtensionEvent::Exit(_)) {
                        continue;
                    }
                }
                let machine = &mut self.extensions[index].machine;
                let result = match event {
                    ExtensionEvent::Registered(_) if first && self.hosts.extension_init_error => {
                        machine.done(Err(ErrorReport::new("Extension.Init", "init failed")))
                    }
                    ExtensionEvent::SubscriptionRejected(refusal) if refusal.is_permanent() => {
                        machine.done(Err(ErrorReport::new("Extension.Subscription", "refused")))
                    }
                    ExtensionEvent::Invoke(_) if first && self.hosts.extension_exit_error => {
                        machine.done(Err(ErrorReport::new("Extension.Crash", "failed")))
                    }
                    ExtensionEvent::Registered(_)
                    | ExtensionEvent::SubscriptionRejected(_)
                    | ExtensionEvent::Invoke(_) => machine.done(Ok(())),
                    ExtensionEvent::EventsUnavailable(_) => Ok(()),
                    ExtensionEvent::Shutdown(_) => {
                        self.extensions[index].got_shutdown = true;
                        if first && self.bug == Some(Bug::IgnoreShutdown) {
                            Ok(())
                        } else {
                            self.extensions[index].machine.done(Ok(()))
                        }
                    }
                    ExtensionEvent::Exit(reason) => {
                        self.extension_exited(config, index, &reason);
                        Ok(())
                    }
                };
                self.flag_if(result.is_err(), Violation::HostRefused);
            }
            if index == 0 && self.forwarding() {
                moved |= self.forwarder_host_gate();
            }
            while let Some(out) = self.extensions[index].machine.poll_request() {
                moved = true;
                self.stage(client, out.token.0, out.call, &out.request);
            }
            if !moved {
                return;
            }
        }
    }

    /// The forwarding extension's host, as the shipped extension runs it:
    /// INVOKE and SHUTDOWN go to the forwarder, and the machine hears
    /// `done` only when the forwarder's gate opens.
    fn forwarder_host_event(&mut self, event: &ExtensionEvent) -> Result<(), ExtensionError> {
        let now = super::world::logical_now();
        let bug = self.bug;
        let Some(forwarder) = &mut self.telemetry.forwarder else { return Ok(()) };
        let machine = &mut self.extensions[0].machine;
        match event {
            ExtensionEvent::Invoke(invoke) => {
                forwarder.invoke(&invoke.request_id, super::telemetry::invoke_deadline(), now);
                if bug == Some(Bug::NextBeforeFlush) {
                    self.forwarder_released();
                    return self.extensions[0].machine.done(Ok(()));
                }
                Ok(())
            }
            ExtensionEvent::Shutdown(_) => {
                self.extensions[0].got_shutdown = true;
                forwarder.shutdown(super::telemetry::shutdown_give_up(), now);
                if bug == Some(Bug::ExitBeforeFlush) {
                    return self.extensions[0].machine.done(Ok(()));
                }
                Ok(())
            }
            ExtensionEvent::SubscriptionRejected(_) => {
                forwarder.stop_awaiting_platform_records();
                machine.done(Ok(()))
            }
            ExtensionEvent::Registered(_) => machine.done(Ok(())),
            ExtensionEvent::EventsUnavailable(_) | ExtensionEvent::Exit(_) => Ok(()),
        }
    }

    /// Acts on the forwarder's gate and hands its batch to the sink.
    /// Returns whether the machine was told something.
    fn forwarder_host_gate(&mut self) -> bool {
        let mut moved = false;
        let bug = self.bug;
        while let Some(event) = self.telemetry.forwarder.as_mut().and_then(|f| f.poll_event()) {
            let early = match event {
                ForwarderEvent::MayCallNext(_) => bug == Some(Bug::NextBeforeFlush),
                ForwarderEvent::MayExit { .. } => bug == Some(Bug::ExitBeforeFlush),
            };
            if early || self.extensions[0].stopped() {
                continue;
            }
            if matches!(event, ForwarderEvent::MayCallNext(_)) {
                self.forwarder_released();
            }
            let result = self.extensions[0].machine.done(Ok(()));
            self.flag_if(result.is_err(), Violation::HostRefused);
            moved = true;
        }
        self.take_batch();
        moved
    }

    fn extension_exited(&mut self, config: &SimConfig, index: usize, reason: &ExtExit) {
        let client = client_of(index);
        self.fatal_exit |= matches!(reason, ExtExit::Fatal(_));
        if matches!(reason, ExtExit::Fatal(ExtensionError::Transport { .. })) {
            self.check_gave_up(client);
        }
        self.close_client(client);
        if index == 0 && matches!(reason, ExtExit::Shutdown) {
            self.forwarder_exited();
        }
        if !matches!(reason, ExtExit::Shutdown) {
            // A failed extension resets the environment. An extension that
            // reported an error loses work by design; a fatal stop must
            // trace back to a fault that loses work.
            self.disrupted |= matches!(reason, ExtExit::InitErrorReported | ExtExit::ExitErrorReported);
            self.start_shutdown(ShutdownReason::Failure);
        }
        if config.bug == Some(Bug::PollAfterExit) && index == 0 {
            self.poll_after_exit(client, index);
        }
    }

    fn poll_after_exit(&mut self, client: u8, index: usize) {
        let Some(address) = address() else { return };
        let Some(id) = self.extensions[index].machine.extension_id().cloned() else { return };
        if let Ok(request) = ext_requests::next(&address, &id) {
            self.stage(client, BUG_TOKEN, Call::ExtensionNext, &request);
        }
    }
}

/// A platform-only Telemetry API subscription to `destination`.
pub(super) fn sim_subscription(destination: &str) -> Subscription {
    Subscription::new(
        SubscriptionApi::Telemetry,
        &[RecordCategory::Platform],
        Buffering::default(),
        destination,
    )
    .expect("constant subscription within every documented range")
}
