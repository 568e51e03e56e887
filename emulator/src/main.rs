//! `lambda-sansio-emulator`: run a Lambda function on this machine.

#![allow(clippy::print_stdout)]

use std::net::SocketAddr;
use std::num::NonZeroU16;
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use lambda_sansio::http::{EventShape, HttpSource};
use lambda_sansio::runtime::Mode;
use lambda_sansio_emulator::load::{self, LoadPlan};
use lambda_sansio_emulator::{Emulator, EmulatorConfig, InvokeOutcome, ShutdownReport, INVOKE_PATH};

const HELP: &str = "\
lambda-sansio-emulator: run a Lambda function on this machine.

It serves the Lambda Runtime, Extensions and Telemetry APIs on 127.0.0.1,
starts the extensions, waits for them to register, starts the bootstrap with
the environment Lambda gives it, and forwards invocations to it. At the end
it shuts down as Lambda does: SHUTDOWN to the extensions, SIGTERM and then
SIGKILL within Lambda's budgets, to every process each of them started.
Between invocations it freezes the function as Lambda does: once the runtime
and every extension called next, their processes are stopped (SIGSTOP) until
the next invocation or shutdown, and no telemetry is delivered meanwhile.

Usage:
  lambda-sansio-emulator --bootstrap PATH [OPTIONS] [--invoke JSON]...

With --invoke, it sends each payload in turn, prints each outcome and shuts
down (exit status 1 if any invocation failed). Without it, it serves until
Ctrl-C; invoke it from another shell with
  curl -d '{}' http://127.0.0.1:PORT/2015-03-31/functions/function/invocations

With --events or --repeat, it makes a load run: the events (those of
--events, then those of --invoke) are sent --repeat times over, as fast as
the function takes them (--concurrency at once, else one), with a progress
bar on a terminal, and a summary at the end: invocations, failures by error
type, latency percentiles, throughput, and the function's peak memory and
CPU time per invocation (read from /proc, in 10 ms ticks: use enough
invocations). Its exit status is 1 if any invocation failed.

Options:
  --bootstrap PATH       The function's bootstrap executable (required).
  --handler TEXT         _HANDLER, the function's Handler setting.
  --function-name NAME   AWS_LAMBDA_FUNCTION_NAME (default: function).
  --memory MB            AWS_LAMBDA_FUNCTION_MEMORY_SIZE (default: 128).
  --timeout SECONDS      The function timeout (default: 30).
  --env KEY=VALUE        More environment for the processes (repeatable).
  --log-format FORMAT    AWS_LAMBDA_LOG_FORMAT: text (default) or json.
  --log-level LEVEL      AWS_LAMBDA_LOG_LEVEL: trace, debug, info, warn,
                         error or fatal.
  --extensions DIR       Start every executable in DIR as an external
                         extension, as Lambda does with /opt/extensions.
  --extension PATH       Start one more external extension (repeatable).
  --concurrency N        Lambda Managed Instances: up to N invocations at once.
  --port PORT            Listen on this port (default: any free one).
  --fault N=FAULT        Fault injection for client testing, on the N-th API
                         request: N=500 (any status), N=reset, N=truncate,
                         N=delay:MS (repeatable).
  --http SOURCE          Also serve plain HTTP (try it with curl): each
                         request is wrapped as an event of SOURCE, rest-api,
                         http-api, function-url, alb or alb-multi-value,
                         and the function's answer is sent back as that
                         service would (502/504 on errors and timeouts).
  --http-port PORT       Where --http listens (default: any free port).
  --invoke JSON          Invoke with this payload (repeatable).
  --events FILE          A load run's events, one JSON document per line.
  --repeat N             Send the events N times over (default: 1).
  --json                 Print the load run's summary as JSON.
  --idle MS              Wait MS milliseconds between invocations (the
                         environment stays frozen meanwhile).
  --no-freeze            Do not freeze the environment between invocations.
  -h, --help             Print this help.
";

/// What the command line asked for.
struct Args {
    config: EmulatorConfig,
    invokes: Vec<String>,
    /// A load run: `(events file, repeat)`, when either was given.
    load: Option<(Option<String>, u32)>,
    json: bool,
    /// Idle time between invocations.
    idle: Duration,
    /// `--http`: the event shape plain HTTP requests are wrapped in, and
    /// where to listen for them.
    http: Option<(EventShape, SocketAddr)>,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut config = EmulatorConfig::default();
    let mut invokes = Vec::new();
    let (mut events, mut repeat, mut json, mut idle) = (None, None, false, Duration::ZERO);
    let (mut http_shape, mut http_bind) = (None, SocketAddr::from(([127, 0, 0, 1], 0)));
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            return Ok(None);
        }
        if flag == "--json" {
            json = true;
            continue;
        }
        if flag == "--no-freeze" {
            config.freeze = false;
            continue;
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--bootstrap" => config.bootstrap = Some(value.into()),
            "--handler" => config.handler = value,
            "--function-name" => config.function_name = value,
            "--memory" => {
                config.memory_mb = value
                    .parse()
                    .ok()
                    .filter(|mb| (128..=10_240).contains(mb))
                    .ok_or("--memory takes megabytes from 128 to 10240")?
            }
            "--timeout" => match value.parse::<f64>() {
                Ok(secs) if secs > 0.0 && secs.is_finite() => config.timeout = Duration::from_secs_f64(secs),
                _ => return Err("--timeout takes a positive number of seconds".into()),
            },
            "--env" => {
                let (key, val) = value.split_once('=').ok_or("--env takes KEY=VALUE")?;
                if key.is_empty() {
                    return Err("--env takes KEY=VALUE with a non-empty KEY".into());
                }
                config.env.push((key.to_owned(), val.to_owned()));
            }
            "--log-format" => {
                config.log_format = match value.to_ascii_lowercase().as_str() {
                    "text" => "Text".to_owned(),
                    "json" => "JSON".to_owned(),
                    _ => return Err("--log-format takes text or json".into()),
                }
            }
            "--log-level" => {
                let level = value.to_ascii_uppercase();
                if !["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"].contains(&level.as_str()) {
                    return Err("--log-level takes trace, debug, info, warn, error or fatal".into());
                }
                config.log_level = Some(level);
            }
            "--extensions" => config.extensions_dir = Some(value.into()),
            "--extension" => config.extensions.push(value.into()),
            "--concurrency" => match value.parse::<NonZeroU16>() {
                Ok(max) => config.mode = Mode::Concurrent { max },
                Err(_) => return Err("--concurrency takes a number from 1 to 65535".into()),
            },
            "--port" => match value.parse::<u16>() {
                Ok(port) => config.bind = SocketAddr::from(([127, 0, 0, 1], port)),
                Err(_) => return Err("--port takes a port number".into()),
            },
            "--fault" => config.faults.push(value.parse()?),
            "--idle" => match value.parse::<u64>() {
                Ok(ms) => idle = Duration::from_millis(ms),
                Err(_) => return Err("--idle takes milliseconds".into()),
            },
            "--http" => http_shape = Some(http_shape_named(&value)?),
            "--http-port" => match value.parse::<u16>() {
                Ok(port) => http_bind = SocketAddr::from(([127, 0, 0, 1], port)),
                Err(_) => return Err("--http-port takes a port number".into()),
            },
            "--invoke" => invokes.push(value),
            "--events" => events = Some(value),
            "--repeat" => match value.parse::<u32>() {
                Ok(n) if n > 0 => repeat = Some(n),
                _ => return Err("--repeat takes a number from 1 to 4294967295".into()),
            },
            other => return Err(format!("unknown option {other} (see --help)")),
        }
    }
    if config.bootstrap.is_none() {
        return Err("--bootstrap PATH is required (see --help)".into());
    }
    let load = (events.is_some() || repeat.is_some()).then(|| (events, repeat.unwrap_or(1)));
    if json && load.is_none() {
        return Err("--json is for load runs: give --events FILE or --repeat N too".into());
    }
    let http = http_shape.map(|shape| (shape, http_bind));
    Ok(Some(Args { config, invokes, load, json, idle, http }))
}

/// The event shape `--http` names.
fn http_shape_named(name: &str) -> Result<EventShape, String> {
    if name == "alb-multi-value" {
        return Ok(EventShape { source: HttpSource::Alb, multi_value: true });
    }
    HttpSource::from_name(name).map(EventShape::of).ok_or_else(|| {
        format!("--http takes rest-api, http-api, function-url, alb or alb-multi-value, not {name:?}")
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(problem) => {
            eprintln!("lambda-sansio-emulator: {problem}");
            return ExitCode::from(2);
        }
    };
    // A load run's events are read before anything starts.
    let in_flight = match args.config.mode {
        Mode::Concurrent { max } => usize::from(max.get()),
        Mode::Classic => 1,
    };
    let plan = match &args.load {
        Some((file, repeat)) => match load_events(file.as_deref(), &args.invokes) {
            Ok(events) => Some(LoadPlan { events, repeat: *repeat, in_flight, idle: args.idle }),
            Err(problem) => {
                eprintln!("lambda-sansio-emulator: {problem}");
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    let emulator = match Emulator::start(args.config).await {
        Ok(emulator) => emulator,
        Err(error) => {
            eprintln!("lambda-sansio-emulator: {error}");
            return ExitCode::FAILURE;
        }
    };
    let address = emulator.address();
    eprintln!("lambda-sansio-emulator: Lambda APIs on http://{address} (AWS_LAMBDA_RUNTIME_API={address})");
    eprintln!("lambda-sansio-emulator: invoke with POST http://{address}{INVOKE_PATH}");
    if let Some((shape, bind)) = args.http {
        match emulator.serve_http(shape, bind).await {
            Ok(front) => eprintln!(
                "lambda-sansio-emulator: HTTP requests to http://{front}/ reach the function as {} events (try curl http://{front}/)",
                shape.source
            ),
            Err(error) => {
                eprintln!("lambda-sansio-emulator: {error}");
                report(&emulator.shutdown().await);
                return ExitCode::FAILURE;
            }
        }
    }
    if let Some(plan) = plan {
        let summary = load_run(&emulator, &plan).await;
        if args.json {
            println!("{}", summary.to_json());
        } else {
            println!("{summary}");
        }
        report(&emulator.shutdown().await);
        return if summary.succeeded == summary.invocations { ExitCode::SUCCESS } else { ExitCode::FAILURE };
    }
    let mut failed = false;
    if args.invokes.is_empty() {
        // Ctrl-C ends the wait; if the handler cannot be installed, stop now.
        let _ = tokio::signal::ctrl_c().await;
    }
    for (index, payload) in args.invokes.into_iter().enumerate() {
        if index > 0 && !args.idle.is_zero() {
            tokio::time::sleep(args.idle).await;
        }
        match emulator.invoke(Bytes::from(payload)).await {
            Ok(InvokeOutcome::Response(body)) => println!("{}", String::from_utf8_lossy(&body)),
            Ok(outcome) => {
                failed = true;
                println!("{outcome}");
            }
            Err(error) => {
                failed = true;
                eprintln!("lambda-sansio-emulator: {error}");
            }
        }
    }
    report(&emulator.shutdown().await);
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The load run's events: each line of `file` that is not blank (each must
/// be JSON), then the `--invoke` payloads.
fn load_events(file: Option<&str>, invokes: &[String]) -> Result<Vec<Bytes>, String> {
    let mut events = Vec::new();
    if let Some(file) = file {
        let text = std::fs::read_to_string(file).map_err(|e| format!("could not read {file}: {e}"))?;
        for (number, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            if let Err(error) = serde_json::from_str::<serde_json::Value>(line) {
                return Err(format!("line {} of {file} is not a JSON document: {error}", number + 1));
            }
            events.push(Bytes::from(line.to_owned()));
        }
    }
    events.extend(invokes.iter().map(|payload| Bytes::from(payload.clone())));
    if events.is_empty() {
        return Err("a load run needs events: give --events FILE or --invoke JSON".into());
    }
    Ok(events)
}

/// Runs `plan` with a progress bar when stderr is a terminal.
async fn load_run(emulator: &Emulator, plan: &LoadPlan) -> load::LoadSummary {
    let bar = indicatif::ProgressBar::new(plan.total());
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} invocations, {per_sec}, {eta} left",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
    } else {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let summary = load::run(emulator, plan, |done, _| bar.set_position(done)).await;
    bar.finish_and_clear();
    summary
}

/// Why a process needed SIGKILL, given its shutdown budget (`None`: it got
/// none, as a runtime without extensions).
fn killed_how(budget: Option<Duration>) -> String {
    match budget {
        None => "was stopped with SIGKILL at once, as Lambda stops a runtime when no extension is \
                 registered (it gets no SIGTERM)"
            .to_owned(),
        Some(budget) => format!(
            "did not exit within its {} ms shutdown budget and was killed with SIGKILL",
            budget.as_millis()
        ),
    }
}

/// One line per process: how it ended.
fn report(report: &ShutdownReport) {
    for (index, (name, status, killed)) in report.processes.iter().enumerate() {
        // The bootstrap comes first, then the extensions.
        let budget = if index == 0 { report.runtime_budget } else { Some(report.extension_budget) };
        let how = match (status, killed) {
            (_, true) => killed_how(budget),
            (Some(status), false) => match (status.code(), signal_of(status)) {
                (Some(code), _) => format!("exited with status {code}"),
                (None, Some(signal)) => format!("was ended by signal {signal}"),
                (None, None) => "ended".to_owned(),
            },
            (None, false) => "ended; its exit status is unknown".to_owned(),
        };
        eprintln!("lambda-sansio-emulator: {name} {how}");
    }
}

fn signal_of(status: &std::process::ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    status.signal()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kill_says_which_budget_ran_out_or_that_there_was_none() {
        assert_eq!(
            killed_how(Some(Duration::from_millis(300))),
            "did not exit within its 300 ms shutdown budget and was killed with SIGKILL"
        );
        let at_once = killed_how(None);
        assert!(at_once.contains("at once") && at_once.contains("no extension"), "{at_once}");
    }

    fn args(line: &str) -> Result<Option<Args>, String> {
        parse(line.split_whitespace().map(str::to_owned))
    }

    #[test]
    fn a_load_run_is_asked_for_with_events_or_repeat() {
        let plain = args("--bootstrap b --invoke {}").unwrap().unwrap();
        assert!(plain.load.is_none());
        let repeated = args("--bootstrap b --invoke {} --repeat 5 --json").unwrap().unwrap();
        assert_eq!(repeated.load, Some((None, 5)));
        assert!(repeated.json);
        let file = args("--bootstrap b --events e.jsonl").unwrap().unwrap();
        assert_eq!(file.load, Some((Some("e.jsonl".into()), 1)));
        assert!(args("--bootstrap b --repeat 0").is_err());
        assert_eq!(
            args("--bootstrap b --json").err().as_deref(),
            Some("--json is for load runs: give --events FILE or --repeat N too")
        );
    }

    #[test]
    fn http_names_a_source_and_takes_a_port() {
        let plain = args("--bootstrap b").unwrap().unwrap();
        assert!(plain.http.is_none());
        let url = args("--bootstrap b --http function-url --http-port 9000").unwrap().unwrap();
        assert_eq!(
            url.http,
            Some((EventShape::of(HttpSource::FunctionUrl), SocketAddr::from(([127, 0, 0, 1], 9000))))
        );
        let alb = args("--bootstrap b --http alb-multi-value").unwrap().unwrap();
        assert_eq!(alb.http.map(|(shape, _)| shape.multi_value), Some(true));
        let wrong = args("--bootstrap b --http soap").err().unwrap_or_default();
        assert_eq!(
            wrong,
            "--http takes rest-api, http-api, function-url, alb or alb-multi-value, not \"soap\""
        );
    }

    #[test]
    fn events_are_json_lines_then_the_invoke_payloads() {
        let dir = std::env::temp_dir().join(format!("lambda-sansio-load-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("events.jsonl");
        std::fs::write(&file, "{\"a\":1}\n\n[2]\n").unwrap();
        let path = file.to_str().unwrap();
        let events = load_events(Some(path), &["3".to_owned()]).unwrap();
        assert_eq!(events, [Bytes::from("{\"a\":1}"), Bytes::from("[2]"), Bytes::from("3")]);
        std::fs::write(&file, "{\"a\":1}\nnot json\n").unwrap();
        let problem = load_events(Some(path), &[]).unwrap_err();
        assert!(problem.starts_with(&format!("line 2 of {path} is not a JSON document")), "{problem}");
        assert!(load_events(None, &[]).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
