//! The faulty platform: what a platform with one of the planted
//! [`Bug`](super::Bug)s would do, played through the real platform's public
//! API, so that the platform-side properties are shown to fail too.

use super::wire::WireResponse;
use super::world::{address, client_of, Conn, LinkState, World};
use crate::extension::requests as ext_requests;
use crate::{Call, ExtensionId};

/// The connection a phantom `next` is counted on; no client reads it.
const PHANTOM: u16 = u16::MAX - 1;

impl World {
    /// The platform counts a `next` from extension `id` that it never sent.
    pub(super) fn faulty_phantom_next(&mut self, id: &ExtensionId) {
        let Some(address) = address() else { return };
        let Ok(request) = ext_requests::next(&address, id) else { return };
        self.platform.handle_request(Conn { client: 1, token: PHANTOM }.id(), &request);
    }

    /// The platform answers the parked poll of every INVOKE-only extension
    /// with SHUTDOWN.
    pub(super) fn faulty_shutdown_to_invoke_only(&mut self) {
        let body = r#"{"eventType":"SHUTDOWN","shutdownReason":"spindown","deadlineMs":60000}"#;
        for index in 0..self.extensions.len() {
            if self.extensions[index].wants_shutdown() || !self.extensions[index].registered {
                continue;
            }
            let conns: Vec<Conn> = self
                .links
                .iter()
                .filter(|(c, l)| {
                    c.client == client_of(index)
                        && l.call == Call::ExtensionNext
                        && l.state == LinkState::Parked
                })
                .map(|(c, _)| *c)
                .collect();
            for conn in conns {
                self.carry(conn, WireResponse::json(http::StatusCode::OK, body));
            }
        }
    }
}
