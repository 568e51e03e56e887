//! Pipelining on the simulated network: a runtime `next` sent on the
//! connection of a buffered answer, right behind it, before that answer's
//! status is back. Answers come back in request order; faults that end the
//! connection take both requests; a server that refuses a body unread
//! closes the connection after its answer, leaving the `next` unserved.

use super::network::is_streamed;
use super::wire::WireResponse;
use super::world::{Conn, LinkState, World, RUNTIME};
use crate::platform::Route;
use crate::{Call, Token};

impl World {
    /// The observer's rule (kept apart from the machine's on purpose): the
    /// one second request allowed on a connection is the runtime's `next`,
    /// behind a buffered answer not yet sent, when the runtime pipelines.
    pub(super) fn may_pipeline(&self, conn: Conn, call: Call) -> bool {
        let Some(head) = self.links.get(&conn) else { return false };
        let head_request = head.request.to_request();
        self.hosts.pipelining
            && conn.client == RUNTIME
            && call == Call::RuntimeNext
            && !self.behind.contains_key(&conn)
            && head.state == LinkState::Outgoing
            && matches!(Route::of(&head_request), Route::RuntimeResponse { .. } | Route::RuntimeError { .. })
            && !is_streamed(&head_request)
    }

    /// The request behind `conn`'s link goes out right after it, unless the
    /// server refused that link's body unread and closes the connection.
    pub(super) fn send_behind(&mut self, conn: Conn, refused_unread: bool) {
        let Some(link) = self.behind.get_mut(&conn) else { return };
        if link.state != LinkState::Outgoing {
            return;
        }
        if refused_unread {
            link.state = LinkState::Unserved;
            return;
        }
        link.state = LinkState::Parked;
        let request = link.request.to_request();
        self.hand_to_platform(conn, &request);
    }

    /// An answer for the request pipelined behind `conn`'s link.
    pub(super) fn carry_behind(&mut self, conn: Conn, answer: WireResponse) {
        if let Some(link) = self.behind.get_mut(&conn) {
            if link.state == LinkState::Parked {
                self.pipelined_invocation |= answer.status() == http::StatusCode::OK;
                link.state = LinkState::Incoming(answer);
            }
        }
    }

    /// `conn`'s link was delivered: the request behind it takes its place,
    /// or, when the server never read it, the runtime hears it was not
    /// served.
    pub(super) fn promote_behind(&mut self, conn: Conn) {
        if self.links.contains_key(&conn) {
            return;
        }
        let Some(link) = self.behind.remove(&conn) else { return };
        if link.state == LinkState::Unserved {
            if self.runtime_alive() {
                let resent = self.runtime.machine.handle_not_served(Token(conn.token));
                self.unserved_resent |= resent.is_ok();
            }
            return;
        }
        self.links.insert(conn, link);
    }
}
