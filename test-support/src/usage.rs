//! What a process tree used, from `/proc`, for the benchmarks: exact CPU
//! time (`schedstat`) and peak resident memory.

/// The process and every live process it started.
pub fn tree(pid: u32) -> Vec<u32> {
    let mut found = vec![pid];
    let mut index = 0;
    while index < found.len() {
        let parent = found[index];
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{parent}/task")) {
            for task in tasks.flatten() {
                let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
                found.extend(children.split_whitespace().filter_map(|c| c.parse::<u32>().ok()));
            }
        }
        index += 1;
    }
    found
}

/// CPU time of `pid`'s processes, in ns: each live one's threads
/// (`schedstat`, exact) plus what each spent in children it has reaped
/// (`cutime`/`cstime`, in clock ticks): a command per invocation is counted,
/// a worker too.
pub fn cpu_ns(pid: u32) -> u64 {
    tree(pid).into_iter().map(|pid| live_cpu_ns(pid) + reaped_children_ns(pid)).sum()
}

fn live_cpu_ns(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return 0 };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

fn reaped_children_ns(pid: u32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0 };
    let Some(close) = stat.rfind(')') else { return 0 };
    // After the command name: state is field 3, cutime 16 and cstime 17.
    let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    let ticks: u64 = [13, 14].iter().filter_map(|&i| fields.get(i)?.parse::<u64>().ok()).sum();
    // Linux's USER_HZ is 100.
    ticks * 10_000_000
}

/// Peak resident memory of `pid`'s processes, in KiB, added up.
pub fn peak_kib(pid: u32) -> f64 {
    tree(pid)
        .into_iter()
        .filter_map(|pid| {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
            let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .sum()
}

/// The median of `values` (the upper middle one for an even count).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// CPU time of `pid` alone (its threads, `schedstat`), in ns: for an adapter
/// whose child (the app it runs) must not be counted.
pub fn own_cpu_ns(pid: u32) -> u64 {
    live_cpu_ns(pid)
}

/// Peak resident memory of `pid` alone, in KiB.
pub fn own_peak_kib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap_or_default();
    line.split_whitespace().nth(1).and_then(|kib| kib.parse().ok()).unwrap_or(0.0)
}
