//! A socket wrapper that lets an early answer through: when the server
//! answers before it has read the whole request (an early `413` with
//! `Connection: close`) and closes, writing the rest of the body fails with
//! a broken pipe or a reset. hyper would report that write error and drop
//! the answer that is already waiting in the receive buffer. Here a broken
//! write is absorbed (the rest of the body is discarded), so hyper goes on
//! to read: the answer if one came, or the closed connection, which it
//! reports as the failure it is.

use std::io::{self, ErrorKind};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// `inner`, with broken writes absorbed once the peer is gone.
pub(crate) struct EarlyAnswerIo<T> {
    inner: T,
    peer_gone: bool,
}

impl<T> EarlyAnswerIo<T> {
    pub(crate) fn new(inner: T) -> Self {
        Self { inner, peer_gone: false }
    }
}

/// Write errors that mean the peer closed; any other error is reported.
fn peer_closed(error: &io::Error) -> bool {
    matches!(error.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted)
}

impl<T: AsyncRead + Unpin> AsyncRead for EarlyAnswerIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for EarlyAnswerIo<T> {
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
