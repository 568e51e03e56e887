//! A handler's process group: every mode starts its handler, worker or app
//! with `process_group(0)`, so the group's id is the child's pid, and
//! stopping the group stops everything the child started.

use std::process::Child;
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

/// How often a stopping group is looked at.
const POLL: Duration = Duration::from_millis(5);

fn group(child: &Child) -> Option<Pid> {
    i32::try_from(child.id()).ok().map(Pid::from_raw)
}

/// SIGKILL to the child's whole group, then the child is reaped.
pub(crate) fn kill(child: &mut Child) {
    if let Some(group) = group(child) {
        let _ = killpg(group, Signal::SIGKILL);
    }
    let _ = child.wait();
}

/// SIGTERM to the child's whole group, up to `grace` for every member to
/// exit (the child is reaped meanwhile: a member may still be cleaning up
/// after the shell that started it has gone), then [`kill`].
pub(crate) fn stop(child: &mut Child, grace: Duration) {
    if let Some(group) = group(child) {
        let _ = killpg(group, Signal::SIGTERM);
        let until = Instant::now() + grace;
        while Instant::now() < until {
            let _ = child.try_wait();
            if killpg(group, None).is_err() {
                break;
            }
            thread::sleep(POLL);
        }
    }
    kill(child);
}
