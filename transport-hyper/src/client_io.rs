//! The client's socket, as hyper sees it. Two things hyper does not do:
//!
//! - Let an early answer through: when the server answers before it has
//!   read the whole request (an early `413` with `Connection: close`) and
//!   closes, writing the rest of the body fails with a broken pipe or a
//!   reset, and hyper would report that and drop the answer already waiting
//!   in the receive buffer. Here a broken write is absorbed (the rest of the
//!   body is discarded), so hyper goes on to read: the answer if one came,
//!   or the closed connection, which it reports as the failure it is.
//! - Acknowledge a partly received answer at once (Linux `TCP_QUICKACK`): a
//!   server that writes an answer's head and body in separate segments with
//!   Nagle's algorithm on waits for the ACK of the head, which the
//!   delayed-ACK timer holds for about 40 ms. A read that ends at a line end
//!   (`\r\n`: the end of a head or of a chunk line) is taken as a partial
//!   answer; a whole JSON answer does not end there, so the usual exchange
//!   costs no extra system call.

use std::io::{self, ErrorKind};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// A client socket with broken writes absorbed once the peer is gone and
/// partial answers acknowledged at once.
pub(crate) struct ClientIo {
    inner: TcpStream,
    peer_gone: bool,
}

impl ClientIo {
    pub(crate) fn new(inner: TcpStream) -> Self {
        Self { inner, peer_gone: false }
    }

    #[cfg(target_os = "linux")]
    fn acknowledge_now(&self) {
        // Best effort: without it an exchange is slower, not wrong.
        let _ = socket2::SockRef::from(&self.inner).set_tcp_quickack(true);
    }

    #[cfg(not(target_os = "linux"))]
    fn acknowledge_now(&self) {}
}

/// Write errors that mean the peer closed; any other error is reported.
fn peer_closed(error: &io::Error) -> bool {
    matches!(error.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted)
}

impl AsyncRead for ClientIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled()[before..].ends_with(b"\r\n") {
            self.acknowledge_now();
        }
        polled
    }
}

impl AsyncWrite for ClientIo {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if self.peer_gone {
            return Poll::Ready(Ok(buf.len()));
        }
        match Pin::new(&mut self.inner).poll_write(cx, buf) {
            Poll::Ready(Err(error)) if peer_closed(&error) => {
                self.peer_gone = true;
                Poll::Ready(Ok(buf.len()))
            }
            other => other,
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.peer_gone {
            return Poll::Ready(Ok(()));
        }
        match Pin::new(&mut self.inner).poll_flush(cx) {
            Poll::Ready(Err(error)) if peer_closed(&error) => {
                self.peer_gone = true;
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.peer_gone {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
