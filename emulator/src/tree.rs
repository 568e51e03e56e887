//! The processes a child started, found through `/proc`, so that stopping a
//! function stops everything it spawned: handlers, workers, `sleep`s in the
//! background, even those that moved to a process group of their own.

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;

/// Every live descendant of `root` (children, their children, …), from
/// each process's `/proc/PID/task/*/children`, or, where the kernel does not
/// provide those files, from a scan of every `/proc/*/stat`. Empty where
/// `/proc` is absent (then only the process group is signalled).
pub(crate) fn descendants(root: Pid) -> Vec<Pid> {
    match children_of(root) {
        Some(children) => {
            let mut found = children;
            let mut index = 0;
            while index < found.len() {
                let more = children_of(found[index]).unwrap_or_default();
                found.extend(more);
                index += 1;
            }
            found
        }
        None => descendants_by_scan(root),
    }
}

/// The children of `pid`, listed by the kernel per thread; `None` where
/// `/proc/PID/task/*/children` does not exist.
fn children_of(pid: Pid) -> Option<Vec<Pid>> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut children = Vec::new();
    for task in tasks.flatten() {
        let listed = std::fs::read_to_string(task.path().join("children")).ok()?;
        children.extend(listed.split_whitespace().filter_map(|c| c.parse().ok()).map(Pid::from_raw));
    }
    Some(children)
}

fn descendants_by_scan(root: Pid) -> Vec<Pid> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    let parents: Vec<(Pid, Pid)> = entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| Some((Pid::from_raw(pid), parent_of(pid)?)))
        .collect();
    let mut found = vec![root];
    let mut index = 0;
    while index < found.len() {
        let parent = found[index];
        found.extend(parents.iter().filter(|(_, p)| *p == parent).map(|(child, _)| *child));
        index += 1;
    }
    found.remove(0);
    found
}

/// The parent pid from `/proc/PID/stat` (the field after the parenthesised
/// command name, which may itself contain spaces and parentheses).
fn parent_of(pid: i32) -> Option<Pid> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    let parent = after_name.split_whitespace().nth(1)?.parse().ok()?;
    Some(Pid::from_raw(parent))
}

/// The peak resident memory (`VmHWM`) of `root` and its descendants, added
/// up, in MB rounded up; 0 where `/proc` is absent.
pub(crate) fn peak_rss_mb(root: u32) -> u64 {
    peak_rss_kib_total(root).div_ceil(1024)
}

/// The same in KiB.
pub(crate) fn peak_rss_kib_total(root: u32) -> u64 {
    let Ok(pid) = i32::try_from(root) else { return 0 };
    let root = Pid::from_raw(pid);
    std::iter::once(root).chain(descendants(root)).filter_map(peak_rss_kib).sum()
}

/// The CPU time (user and system) `root` and its live descendants used, with
/// that of the children they waited for; zero where `/proc` is absent.
pub(crate) fn cpu_time(root: u32) -> std::time::Duration {
    let Ok(pid) = i32::try_from(root) else { return std::time::Duration::ZERO };
    let root = Pid::from_raw(pid);
    let ticks: u64 = std::iter::once(root).chain(descendants(root)).filter_map(cpu_ticks).sum();
    // `/proc` counts in USER_HZ, which Linux fixes at 100 for this interface.
    std::time::Duration::from_millis(ticks * 10)
}

/// `utime + stime + cutime + cstime` of `pid`, in clock ticks.
fn cpu_ticks(pid: Pid) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    // After the name: state is field 3, so utime (14) .. cstime (17) are 11..=14 here.
    fields.get(11..15)?.iter().map(|f| f.parse::<u64>().ok()).sum()
}

fn peak_rss_kib(pid: Pid) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Sends `signal` to the process group `leader` leads and to every
/// descendant of it (found before signalling, so none escapes by being
/// reparented).
pub(crate) fn signal_all(leader: Pid, signal: Signal) {
    let others = descendants(leader);
    // Errors mean the process is already gone.
    let _ = killpg(leader, signal);
    for pid in others {
        let _ = kill(pid, signal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_is_read_from_proc() {
        let spin = std::time::Instant::now();
        let mut x = 0u64;
        while spin.elapsed() < std::time::Duration::from_millis(60) {
            x = x.wrapping_mul(31).wrapping_add(1);
        }
        assert!(x != 1);
        assert!(cpu_time(std::process::id()) >= std::time::Duration::from_millis(30));
    }

    #[test]
    fn peak_memory_is_read_from_proc() {
        assert!(peak_rss_mb(std::process::id()) > 0, "this test process uses memory");
        assert_eq!(peak_rss_mb(u32::MAX), 0, "no such process");
    }

    #[test]
    fn the_scan_and_the_children_files_agree() {
        let mut shell =
            std::process::Command::new("sh").args(["-c", "sleep 30 & wait"]).spawn().expect("sh runs");
        let pid = Pid::from_raw(i32::try_from(shell.id()).expect("a pid fits"));
        let mut found = Vec::new();
        for _ in 0..200 {
            found = descendants(pid);
            if !found.is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(found, descendants_by_scan(pid));
        for child in &found {
            let _ = kill(*child, Signal::SIGKILL);
        }
        let _ = shell.kill();
        let _ = shell.wait();
    }

    #[test]
    fn a_childs_children_are_found() {
        let mut shell = std::process::Command::new("sh")
            .args(["-c", "sleep 30 & sleep 30 & wait"])
            .spawn()
            .expect("sh runs");
        let pid = Pid::from_raw(i32::try_from(shell.id()).expect("a pid fits"));
        let mut found = Vec::new();
        for _ in 0..200 {
            found = descendants(pid);
            if found.len() >= 2 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(found.len(), 2, "{found:?}");
        for child in &found {
            let _ = kill(*child, Signal::SIGKILL);
        }
        let _ = shell.kill();
        let _ = shell.wait();
    }
}
