//! The worker's answer channel (file descriptor 3), read by whichever
//! invocation is waiting rather than by a thread of its own: in classic mode
//! an answer reaches its invocation without a switch between threads, which
//! on a small Lambda is most of what worker mode costs. Under Managed
//! Instances one waiting invocation reads at a time and hands the answers
//! it finds for the others over; when it leaves, another takes its place.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::os::fd::AsFd;
use std::process::ChildStdout;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use lambda_sansio_blocking::Response;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::worker_lines::{parse_answer, Answer, Parsed};

/// Longest answer line read: a 6 MiB response as base64, and its envelope.
const MAX_LINE: usize = 9 * 1024 * 1024;
/// Bytes read from the pipe at a time.
const READ_SIZE: usize = 64 * 1024;

/// How a wait ended.
pub(crate) enum Waited {
    /// The worker answered.
    Answer(Answer),
    /// The deadline passed first.
    TimedOut,
    /// The worker's answers ended (it exited, or broke the protocol), why.
    Dead(String),
}

/// What the readers found, shared by every waiting invocation.
#[derive(Default)]
struct Board {
    /// Invocations waiting, by request id.
    waiting: HashSet<String>,
    /// Answers read for invocations that have not taken them yet.
    arrived: HashMap<String, Answer>,
    ready: bool,
    dead: Option<String>,
    /// Bumped each time a reader lets go, so a waiter never sleeps through
    /// its turn to read.
    turn: u64,
    /// Invocations asleep on `changed` (counted under this lock, before
    /// they sleep): a reader that finds none has no one to wake, and in
    /// classic mode never does.
    sleepers: usize,
}

/// The pipe and the bytes read from it that do not make a line yet.
struct Pipe {
    pipe: ChildStdout,
    pending: BytesMut,
    /// Bytes at the start of `pending` known to hold no line end, so a long
    /// line read in many pieces is searched once, not once per piece.
    searched: usize,
    scratch: Box<[u8]>,
}

/// What one read of the pipe gave.
enum Progress {
    /// Whole lines, each without its end; an answer's body is a slice of
    /// its line.
    Lines(Vec<Bytes>),
    Idle,
    Ended(String),
}

/// The worker's answers.
pub(crate) struct Answers {
    pipe: Mutex<Pipe>,
    board: Mutex<Board>,
    changed: Condvar,
}

impl Answers {
    pub(crate) fn new(pipe: ChildStdout) -> Self {
        let pipe = Pipe {
            pipe,
            pending: BytesMut::new(),
            searched: 0,
            scratch: vec![0; READ_SIZE].into_boxed_slice(),
        };
        Self { pipe: Mutex::new(pipe), board: Mutex::new(Board::default()), changed: Condvar::new() }
    }

    fn board(&self) -> MutexGuard<'_, Board> {
        self.board.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the answers have ended.
    pub(crate) fn is_dead(&self) -> bool {
        self.board().dead.is_some()
    }

    /// Announces an invocation (before its line is written), so that its
    /// answer is kept for it however early it comes.
    pub(crate) fn expect(&self, id: &str) {
        self.board().waiting.insert(id.to_owned());
    }

    /// Forgets an invocation whose line could not be written.
    pub(crate) fn forget(&self, id: &str) {
        let mut board = self.board();
        board.waiting.remove(id);
        board.arrived.remove(id);
    }

    /// Waits for `{"ready": true}` until `until`: `Err(None)` when the time
    /// ran out, `Err(Some(why))` when the answers ended first.
    pub(crate) fn wait_ready(&self, until: Instant) -> Result<(), Option<String>> {
        match self.wait_for(None, Some(until)) {
            Waited::Answer(_) => Ok(()),
            Waited::TimedOut => Err(None),
            Waited::Dead(why) => Err(Some(why)),
        }
    }

    /// Waits for the answer to `id` until `until` (`None`: no deadline).
    pub(crate) fn wait(&self, id: &str, until: Option<Instant>) -> Waited {
        let waited = self.wait_for(Some(id), until);
        self.forget(id);
        waited
    }

    /// Waits for the answer to `id`, or for the ready line when `id` is
    /// `None` (then `Waited::Answer` carries an empty answer): reading when
    /// no one else is, else until a reader lets go.
    fn wait_for(&self, id: Option<&str>, until: Option<Instant>) -> Waited {
        loop {
            let turn = {
                let mut board = self.board();
                match id {
                    Some(id) => {
                        if let Some(answer) = board.arrived.remove(id) {
                            return Waited::Answer(answer);
                        }
                    }
                    None if board.ready => return Waited::Answer(Ok(Response::Buffered(Bytes::new()))),
                    None => {}
                }
                if let Some(why) = &board.dead {
                    return Waited::Dead(why.clone());
                }
                if until.is_some_and(|until| Instant::now() >= until) {
                    return Waited::TimedOut;
                }
                board.turn
            };
            match self.pipe.try_lock() {
                Ok(mut pipe) => {
                    let read = pipe.read_some(until);
                    let mut board = self.board();
                    match read {
                        Progress::Lines(lines) => lines.iter().for_each(|line| post(&mut board, line)),
                        Progress::Idle => {}
                        Progress::Ended(why) => board.dead = Some(why),
                    }
                    board.turn += 1;
                    let someone_sleeps = board.sleepers > 0;
                    drop(board);
                    drop(pipe);
                    if someone_sleeps {
                        self.changed.notify_all();
                    }
                }
                Err(TryLockError::WouldBlock) => {
                    let mut board = self.board();
                    if board.turn == turn {
                        let wait = until.map(|until| until.saturating_duration_since(Instant::now()));
                        board.sleepers += 1;
                        // Woken or timed out, the loop looks again.
                        let mut board = match wait {
                            Some(wait) => {
                                self.changed
                                    .wait_timeout(board, wait)
                                    .unwrap_or_else(PoisonError::into_inner)
                                    .0
                            }
                            None => self.changed.wait(board).unwrap_or_else(PoisonError::into_inner),
                        };
                        board.sleepers -= 1;
                    }
                }
                Err(TryLockError::Poisoned(_)) => {
                    return Waited::Dead("reading the worker's answers failed".into())
                }
            }
        }
    }
}

/// Files one line: the ready line, an answer kept for its invocation, or
/// something reported and ignored.
fn post(board: &mut Board, line: &Bytes) {
    match parse_answer(line) {
        Ok(Parsed::Ready) => board.ready = true,
        Ok(Parsed::Answer(id, answer)) => {
            if board.waiting.contains(&id) && !board.arrived.contains_key(&id) {
                board.arrived.insert(id, answer);
            } else {
                eprintln!("bootstrap: the worker answered {id}, which is not waiting; ignored");
            }
        }
        Err(problem) => {
            eprintln!("bootstrap: the worker wrote a line that is not an answer ({problem}); ignored")
        }
    }
}

impl Pipe {
    /// Waits until the pipe is readable (at most until `until`), reads what
    /// is there once, and returns the whole lines it completes.
    fn read_some(&mut self, until: Option<Instant>) -> Progress {
        let timeout = match until {
            None => PollTimeout::NONE,
            Some(until) => {
                let left = until.saturating_duration_since(Instant::now());
                PollTimeout::try_from(left.as_millis().max(1)).unwrap_or(PollTimeout::MAX)
            }
        };
        let mut fds = [PollFd::new(self.pipe.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, timeout) {
            Ok(0) => return Progress::Idle,
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => return Progress::Idle,
            Err(error) => return Progress::Ended(format!("its answers could not be read: {error}")),
        }
        let read = match self.pipe.read(&mut self.scratch) {
            Ok(0) => return Progress::Ended("the worker exited".to_owned()),
            Ok(read) => read,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => return Progress::Idle,
            Err(error) => return Progress::Ended(format!("its answers could not be read: {error}")),
        };
        self.pending.extend_from_slice(&self.scratch[..read]);
        let mut lines = Vec::new();
        while let Some(found) = memchr::memchr(b'\n', &self.pending[self.searched..]) {
            let end = self.searched + found;
            let line = self.pending.split_to(end + 1).freeze();
            lines.push(line.slice(..end));
            self.searched = 0;
        }
        self.searched = self.pending.len();
        if self.pending.len() > MAX_LINE {
            return Progress::Ended(format!("it wrote an answer line over {MAX_LINE} bytes"));
        }
        Progress::Lines(lines)
    }
}
