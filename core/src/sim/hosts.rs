//! The scripted hosts of the simulation: how each client reacts to its
//! machine's events (a handler that answers, extensions that acknowledge
//! and exit on SHUTDOWN), and the bugs a deliberately faulty client plants.

use bytes::Bytes;

use super::config::{Bug, SimConfig};
use super::world::{address, Violation, World, BUG_TOKEN, RUNTIME};
use crate::extension::{
    requests as ext_requests, ExitReason as ExtExit, ExtensionError, ExtensionEvent, ShutdownReason,
};
use crate::runtime::{requests as rt_requests, ExitReason as RtExit, RuntimeError, RuntimeEvent};
use crate::telemetry::{Buffering, RecordCategory, Subscription, SubscriptionApi};
use crate::{Call, RequestId};

impl World {
    /// Lets every client react to what it received, until nothing changes.
    pub(super) fn settle_all(&mut self, config: &SimConfig) {
        for index in 0..self.extensions.len() {
            self.settle_extension(config, index);
        }
        let extensions_ready =
            self.extensions.iter().all(|e| e.registered || e.machine.exit_reason().is_some());
        if !self.runtime.started && extensions_ready {
            self.runtime.started = true;
        }
        if self.runtime.started && !self.runtime.killed {
            self.settle_runtime(config);
        }
        // The platform may have answered parked polls meanwhile.
        self.pump_platform();
    }

    fn settle_runtime(&mut self, config: &SimConfig) {
        loop {
            let mut moved = false;
            while let Some(event) = self.runtime.machine.poll_event() {
                moved = true;
                match event {
                    RuntimeEvent::Invoke(invocation) => {
                        self.runtime.open.insert(invocation.request_id.clone());
                        self.runtime.handling.insert(invocation.request_id);
                    }
                    RuntimeEvent::Answered { request_id } | RuntimeEvent::StreamLost { request_id, .. } => {
                        self.runtime.open.remove(&request_id);
                        if config.bug == Some(Bug::AnswerTwice) {
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
                        // Lost requests are benign while retries last; running
                        // out of them is the fatal fault that may lose work.
                        self.disrupted |= matches!(reason, RtExit::Fatal(RuntimeError::Transport { .. }));
                        self.kill_runtime();
                        // The platform notices the runtime died and resets.
                        self.start_shutdown(ShutdownReason::Failure);
                    }
                }
            }
            if let Some(due) = self.runtime.machine.poll_timeout() {
                moved = true;
                self.runtime.machine.handle_timeout(due);
            }
            while let Some(out) = self.runtime.machine.poll_request() {
                moved = true;
                self.stage(RUNTIME, out.token.0, out.call, &out.request);
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

    fn settle_extension(&mut self, config: &SimConfig, index: usize) {
        let client = u8::try_from(index + 1).unwrap_or(u8::MAX);
        loop {
            let mut moved = false;
            while let Some(event) = self.extensions[index].machine.poll_event() {
                moved = true;
                let machine = &mut self.extensions[index].machine;
                // The host does what every shipped host does: its work, then
                // `done` with success; the machine decides what follows.
                let result = match event {
                    ExtensionEvent::Registered(_)
                    | ExtensionEvent::SubscriptionRejected(_)
                    | ExtensionEvent::Invoke(_) => machine.done(Ok(())),
                    ExtensionEvent::EventsUnavailable(_) => Ok(()),
                    ExtensionEvent::Shutdown(_) => {
                        self.extensions[index].got_shutdown = true;
                        self.extensions[index].machine.done(Ok(()))
                    }
                    ExtensionEvent::Exit(reason) => {
                        self.fatal_exit |= matches!(reason, ExtExit::Fatal(_));
                        self.disrupted |= matches!(reason, ExtExit::Fatal(ExtensionError::Transport { .. }));
                        self.close_client(client);
                        if !matches!(reason, ExtExit::Shutdown) {
                            // A failed extension resets the environment.
                            self.start_shutdown(ShutdownReason::Failure);
                        }
                        if config.bug == Some(Bug::PollAfterExit) && index == 0 {
                            self.poll_after_exit(client, index);
                        }
                        Ok(())
                    }
                };
                self.flag_if(result.is_err(), Violation::HostRefused);
            }
            if let Some(due) = self.extensions[index].machine.poll_timeout() {
                moved = true;
                self.extensions[index].machine.handle_timeout(due);
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

    fn poll_after_exit(&mut self, client: u8, index: usize) {
        let Some(address) = address() else { return };
        let Some(id) = self.extensions[index].machine.extension_id().cloned() else { return };
        if let Ok(request) = ext_requests::next(&address, &id) {
            self.stage(client, BUG_TOKEN, Call::ExtensionNext, &request);
        }
    }
}

pub(super) fn sim_subscription() -> Subscription {
    Subscription::new(
        SubscriptionApi::Telemetry,
        &[RecordCategory::Platform],
        Buffering::default(),
        "http://sandbox.localdomain:4243/telemetry",
    )
    .expect("constant subscription within every documented range")
}
