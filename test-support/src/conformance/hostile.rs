//! Scenarios against the scripted hostile platform: what AWS's own emulator
//! and raw-socket servers showed, one scenario per finding.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use lambda_sansio::runtime::{Mode, RuntimeConfig, PIPELINED_MAX_BODY};
use lambda_sansio::{ApiAddress, RetryPolicy};

use super::scripted::{invocation, is_next, Scripted, Seen, Step, ACCEPTED};
use super::{echo, handler, Driver};

/// How long a scenario waits for the runtime to do what it must.
const BUDGET: Duration = Duration::from_secs(20);

fn config(server: &Scripted) -> RuntimeConfig {
    RuntimeConfig {
        address: ApiAddress::parse(server.address()).unwrap(),
        mode: Mode::Classic,
        retry: RetryPolicy {
            max_retries: 2,
            initial_backoff: Duration::from_millis(5),
            ..RetryPolicy::default()
        },
        pipelining: true,
        trace_id_env: false,
    }
}

fn posts_to<'a>(seen: &'a [Seen], tail: &str) -> Vec<&'a Seen> {
    seen.iter().filter(|s| s.method == "POST" && s.target.ends_with(tail)).collect()
}

fn nexts(seen: &[Seen]) -> usize {
    seen.iter().filter(|s| is_next(s)).count()
}

/// What `server` saw once the runtime has polled `count` times (or the
/// budget ran out; the scenario's assertions then say what is missing).
async fn seen_by_nexts(server: Scripted, count: usize) -> Vec<Seen> {
    tokio::task::spawn_blocking(move || server.wait_until(BUDGET, |seen| nexts(seen) >= count)).await.unwrap()
}

/// Items 9, 10, 13, 15: a head as large as hyper accepts (80 headers and a
/// 64 KiB client context), interim `100`/`103` answers before the real one,
/// head and body in separate segments with Nagle on: the invocation is
/// delivered and answered, in origin form, and the loop goes on.
pub async fn hostile_but_valid_answers_are_read<D: Driver>() {
    let mut extra: String = (0..80).map(|n| format!("X-Filler-{n}: {n}\r\n")).collect();
    extra.push_str(&format!(
        "Lambda-Runtime-Client-Context: {{\"custom\":{{\"k\":\"{}\"}}}}\r\n",
        "c".repeat(64 * 1024)
    ));
    let first = invocation("r1", &extra, "\"hi\"");
    let server = Scripted::start(move |seen, index| match (is_next(seen), index) {
        (true, 0) => {
            let (head, body) = first.split_at(first.len() - 4);
            let mut interim =
                b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n".to_vec();
            interim.extend_from_slice(head);
            Step::Answer(vec![interim, body.to_vec()])
        }
        (true, _) => Step::Hang,
        (false, _) => {
            let (head, body) = ACCEPTED.split_at(ACCEPTED.len() - 15);
            Step::Answer(vec![b"HTTP/1.1 100 Continue\r\n\r\n".to_vec(), head.to_vec(), body.to_vec()])
        }
    });
    D::start_runtime(config(&server), echo());
    let seen = tokio::task::spawn_blocking(move || {
        server.wait_until(BUDGET, |seen| nexts(seen) >= 2 && !posts_to(seen, "/r1/response").is_empty())
    })
    .await
    .unwrap();
    let answers = posts_to(&seen, "/r1/response");
    assert_eq!(answers.len(), 1, "{seen:#?}");
    assert_eq!(answers[0].body, b"\"hi\"");
    assert_eq!(nexts(&seen), 2, "the 202 after a 100 Continue was read and the loop went on");
    for request in &seen {
        assert!(request.target.starts_with('/'), "origin form, not {}", request.target);
        assert!(request.header("host").is_some(), "with a Host header");
    }
}

/// Item 7: an answer to `next` that cannot be read. With a readable request
/// id the invocation is reported as `Runtime.InvalidEvent`; without one the
/// runtime exits naming the cause. Both transports decode with core's codec,
/// which keeps the head it could not parse (too many headers, obsolete
/// folding), so the id is read from it.
pub async fn unreadable_invocations_are_reported_or_fatal<D: Driver>() {
    let many: String = (0..200).map(|n| format!("X-H{n}: v\r\n")).collect();
    let cases: [(&str, Vec<u8>, bool); 4] = [
        ("too many headers", invocation("r1", &many, "{}"), true),
        ("obsolete line folding", invocation("r1", "X-Folded: a\r\n b\r\n", "{}"), true),
        ("a body over the limit", over_limit_body("r1"), true),
        ("a bare CR in the request id", invocation("r\r1", "", "{}"), false),
    ];
    for (case, answer, reported) in cases {
        let server = Scripted::start(move |seen, index| match (is_next(seen), index) {
            (true, 0) => Step::Answer(vec![answer.clone()]),
            (true, _) => Step::Hang,
            (false, _) => Step::Answer(vec![ACCEPTED.to_vec()]),
        });
        let runtime = D::start_runtime(config(&server), echo());
        if reported {
            let seen = seen_by_nexts(server, 2).await;
            let errors = posts_to(&seen, "/r1/error");
            assert_eq!(errors.len(), 1, "{case}: {seen:#?}");
            assert_eq!(
                errors[0].header("lambda-runtime-function-error-type"),
                Some("Runtime.InvalidEvent"),
                "{case}"
            );
            assert!(posts_to(&seen, "/response").is_empty(), "{case}");
            assert!(!runtime.is_finished(), "{case}: the runtime goes on");
        } else {
            let result = super::stopped(runtime).await;
            let error = result.expect_err(case);
            assert!(error.contains("could not be read"), "{case}: {error}");
            let seen = server.seen();
            assert_eq!(nexts(&seen), 1, "{case}: not polled again, which would blame the wrong thing");
            assert!(
                posts_to(&seen, "/error").is_empty() && posts_to(&seen, "/response").is_empty(),
                "{case}"
            );
        }
    }
}

fn over_limit_body(id: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: {id}\r\nContent-Length: {}\r\n\r\n",
        8 * 1024 * 1024
    )
    .into_bytes()
}

/// A `413` with `Connection: close`, as Go's net/http sends it.
fn refused() -> Vec<u8> {
    b"HTTP/1.1 413 Request Entity Too Large\r\nConnection: close\r\nContent-Type: application/json\r\n\
    Content-Length: 58\r\n\r\n{\"errorType\":\"RequestEntityTooLarge\",\"errorMessage\":\"big\"}"
        .to_vec()
}

/// Items 1 and 8: a server that answers a 7 MiB response `413` with
/// `Connection: close` before reading its body (as Go's net/http does). The
/// answer is read although the write broke; the invocation is over (no
/// error report, which Lambda would answer 403), and the runtime polls `next`.
pub async fn an_early_413_ends_the_invocation<D: Driver>() {
    refused_unread::<D>(7 * 1024 * 1024).await;
}

/// An answer of `size` bytes to `r1` refused `413` before its body was read:
/// sent once, not reported, and `next` is polled again.
async fn refused_unread<D: Driver>(size: usize) {
    let server = Scripted::start(move |seen, index| match (is_next(seen), index) {
        (true, 0) => Step::Answer(vec![invocation("r1", "", "\"big\"")]),
        (true, _) => Step::Hang,
        (false, _) => Step::AnswerEarlyAndClose(refused()),
    });
    let answer = handler(move |_, _| Ok(Bytes::from(vec![b'x'; size])));
    let runtime = D::start_runtime(config(&server), answer);
    let seen = seen_by_nexts(server, 2).await;
    assert_eq!(posts_to(&seen, "/r1/response").len(), 1, "sent once, not retried: {seen:#?}");
    assert!(posts_to(&seen, "/r1/error").is_empty(), "no report after a 413");
    assert_eq!(nexts(&seen), 2);
    assert!(!runtime.is_finished());
}

/// Pipelining: a server that closes the connection after accepting an
/// answer, saying so (`Connection: close`) or not, never reads the `next`
/// the client sent behind it. That `next` is sent again on a new
/// connection: every invocation is delivered once and answered once.
pub async fn a_server_that_closes_after_an_answer_loses_no_invocation<D: Driver>() {
    let next = deliveries(3);
    let server = Scripted::start(move |seen, _| {
        if is_next(seen) {
            return next();
        }
        if seen.target.contains("/r1/") {
            Step::AnswerAndClose(accepted_with("Connection: close\r\n"))
        } else if seen.target.contains("/r2/") {
            Step::AnswerAndClose(ACCEPTED.to_vec())
        } else {
            Step::Answer(vec![ACCEPTED.to_vec()])
        }
    });
    let runtime = D::start_runtime(config(&server), echo());
    let seen = seen_by_nexts(server, 4).await;
    for id in ["r1", "r2", "r3"] {
        assert_eq!(posts_to(&seen, &format!("/{id}/response")).len(), 1, "{id} answered once: {seen:#?}");
    }
    assert_eq!(nexts(&seen), 4, "each invocation delivered once, then one poll parked: {seen:#?}");
    assert!(!runtime.is_finished());
}

/// Pipelining: a small answer refused `413` before its body was read (the
/// server then closes). The invocation is over, as after any early `413`;
/// the `next` sent behind it was never read, and is sent again.
pub async fn a_small_answer_refused_unread_is_followed_by_a_fresh_next<D: Driver>() {
    refused_unread::<D>(16).await;
}

/// Pipelining: the connection is reset after the platform accepted an
/// answer, while the `next` behind it waits. That `next` fails in transit
/// and is retried on a new connection; the next invocation is delivered
/// and answered.
pub async fn a_reset_behind_an_accepted_answer_loses_no_invocation<D: Driver>() {
    let next = deliveries(2);
    let server = Scripted::start(move |seen, _| {
        if is_next(seen) {
            next()
        } else if seen.target.contains("/r1/") {
            Step::AnswerAndReset(ACCEPTED.to_vec())
        } else {
            Step::Answer(vec![ACCEPTED.to_vec()])
        }
    });
    let runtime = D::start_runtime(config(&server), echo());
    let seen = seen_by_nexts(server, 3).await;
    // Had the reset come before the client read the 202, the answer is
    // retried: at least once, then.
    assert!(!posts_to(&seen, "/r1/response").is_empty(), "{seen:#?}");
    assert_eq!(posts_to(&seen, "/r2/response").len(), 1, "{seen:#?}");
    assert_eq!(nexts(&seen), 3, "{seen:#?}");
    assert!(!runtime.is_finished());
}

/// Pipelining: in classic mode the `next` that follows a small buffered
/// answer goes out behind it, before its `202` is back (the server holds
/// the `202` until it sees bytes behind the answer, or for a second). A large
/// answer is not followed: it is answered as soon as it is read.
pub async fn classic_drivers_pipeline_the_next_behind_a_buffered_answer<D: Driver>() {
    let next = deliveries(2);
    let server = Scripted::start(move |seen, _| {
        if is_next(seen) {
            next()
        } else {
            Step::AnswerOnceFollowed(vec![ACCEPTED.to_vec()])
        }
    });
    let large = PIPELINED_MAX_BODY + 1;
    let answer = handler(move |_, context| {
        let size = if context.request_id.as_str() == "r2" { large } else { 2 };
        Ok(Bytes::from(vec![b'x'; size]))
    });
    let runtime = D::start_runtime(config(&server), answer);
    let seen = seen_by_nexts(server, 3).await;
    let (small, large) = (posts_to(&seen, "/r1/response"), posts_to(&seen, "/r2/response"));
    assert!(small.len() == 1 && small[0].followed, "the next went out behind r1's answer: {seen:#?}");
    assert!(large.len() == 1 && !large[0].followed, "nothing behind r2's large answer: {seen:#?}");
    assert_eq!(nexts(&seen), 3, "{seen:#?}");
    assert!(!runtime.is_finished());
}

/// The answers to successive `next` polls: invocations `r1` to
/// `r{count}`, then a poll left parked.
fn deliveries(count: usize) -> impl Fn() -> Step + Send + Sync {
    let delivered = AtomicUsize::new(0);
    move || match delivered.fetch_add(1, Ordering::SeqCst) + 1 {
        n if n <= count => Step::Answer(vec![invocation(&format!("r{n}"), "", "{}")]),
        _ => Step::Hang,
    }
}

/// The platform's `202` with extra header lines (each ending in CRLF).
fn accepted_with(extra_headers: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 202 Accepted\r\n{extra_headers}Content-Type: application/json\r\nContent-Length: 15\r\n\r\n\
         {{\"status\":\"OK\"}}"
    )
    .into_bytes()
}
