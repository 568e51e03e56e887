//! The platform machine's lifecycle rules at their edges: what a lost or
//! undeliverable answer, a failed extension, shutdown and expiry leave
//! behind, and when an invocation is over.

#![allow(clippy::unwrap_used)]

mod platform_support;

use std::num::NonZeroU16;

use bytes::Bytes;
use lambda_sansio::extension::{requests as ext, EventType, ShutdownReason};
use lambda_sansio::platform::{ConnId, Outcome, PlatformConfig, PlatformEvent, PlatformMachine};
use lambda_sansio::runtime::{requests as rt, Mode};
use lambda_sansio::{DeadlineMs, ErrorReport, ExtensionName, RequestId};
use platform_support::*;

#[test]
fn an_extension_that_polls_again_after_shutdown_gets_shutdown_again() {
    let mut p = platform(Mode::Classic);
    let id = ext_id(&register(&mut p, "ext-a", &[EventType::Shutdown]));
    p.shutdown(ShutdownReason::Timeout, DeadlineMs(5));
    let first = call(&mut p, 2, ext::next(&addr(), &id).unwrap()).unwrap();
    events(&mut p);
    // The answer was lost after it was written: the extension polls again.
    let again = call(&mut p, 3, ext::next(&addr(), &id).unwrap()).expect("answered at once, not parked");
    assert_eq!((again.status(), again.body()), (first.status(), first.body()));
    let event: serde_json::Value = serde_json::from_slice(again.body()).unwrap();
    assert_eq!(event["eventType"], "SHUTDOWN");
    assert!(events(&mut p).is_empty(), "a repeated SHUTDOWN is not a second delivery event");
}

#[test]
fn shutdown_ends_a_delivered_unanswered_invocation_and_refuses_its_late_answer() {
    let mut p = running_with_invocation(None);
    events(&mut p);
    p.shutdown(ShutdownReason::Failure, DeadlineMs(5));
    let ended: Vec<PlatformEvent> = events(&mut p);
    assert!(
        ended.iter().any(|e| matches!(
            e,
            PlatformEvent::InvocationCompleted { request_id, outcome: Outcome::Aborted } if request_id.as_str() == "r1"
        )),
        "{ended:?}"
    );
    assert_eq!(p.unanswered_invocations().count(), 0);
    let late = answer(&mut p, "r1", None, Bytes::new());
    assert_eq!((late.status().as_u16(), error_type(&late).as_str()), (403, "InvalidStateTransition"));
    assert!(events(&mut p).is_empty(), "a late answer records no second outcome");
}

#[test]
fn expired_ids_are_remembered_exactly_as_long_as_configured() {
    let mut p = PlatformMachine::new(PlatformConfig {
        mode: Mode::Concurrent { max: NonZeroU16::new(4).unwrap() },
        remembered_expired: 2,
        ..PlatformConfig::new("fn")
    });
    for (n, id) in ["a", "b", "c"].into_iter().enumerate() {
        p.invoke(invocation(id, None)).unwrap();
        call(&mut p, 10 + n as u64, rt::next(&addr()).unwrap()).unwrap();
        assert!(p.timeout(&RequestId::new(id).unwrap(), DeadlineMs(5)));
    }
    let status = |p: &mut PlatformMachine, id: &str| answer(p, id, None, Bytes::new()).status().as_u16();
    assert_eq!(status(&mut p, "a"), 400, "the oldest of three is forgotten");
    assert_eq!(status(&mut p, "b"), 410);
    assert_eq!(status(&mut p, "c"), 410);
}

#[test]
fn a_failed_extension_stays_failed_when_the_answer_to_its_error_report_is_undelivered() {
    let mut p = platform(Mode::Classic);
    let id = ext_id(&register(&mut p, "ext-a", &[EventType::Invoke, EventType::Shutdown]));
    p.invoke(invocation("r1", None)).unwrap();
    p.handle_request(ConnId(1), &rt::next(&addr()).unwrap());
    p.handle_request(ConnId(2), &ext::next(&addr(), &id).unwrap());
    std::iter::from_fn(|| p.poll_response()).for_each(drop);
    let report = ErrorReport::new("Extension.Crash", "failed");
    let accepted = call(&mut p, 2, ext::exit_error(&addr(), &id, &report).unwrap()).unwrap();
    assert_eq!(accepted.status(), 202);
    p.delivery_failed(ConnId(2));
    let refused = call(&mut p, 2, ext::next(&addr(), &id).unwrap()).unwrap();
    assert_eq!(refused.status(), 403, "the INVOKE is not handed to a failed extension again");
}

#[test]
fn a_registration_whose_answer_cannot_be_written_is_undone() {
    let mut p = platform(Mode::Classic);
    let name = ExtensionName::new("ext-a").unwrap();
    p.handle_request(ConnId(5), &ext::register(&addr(), &name, &[EventType::Shutdown], false).unwrap());
    assert_eq!(p.poll_response().unwrap().1.status(), 200);
    p.delivery_failed(ConnId(5));
    assert_eq!(p.extension_ids().count(), 0);
    let again = register(&mut p, "ext-a", &[EventType::Shutdown]);
    assert_eq!(again.status(), 200, "the retried register is not a duplicate name");
    // Once the extension used its identifier, a failed write no longer undoes it.
    let id = ext_id(&again);
    p.handle_request(ConnId(90), &ext::next(&addr(), &id).unwrap());
    p.delivery_failed(ConnId(90));
    assert_eq!(p.extension_ids().count(), 1);
}

#[test]
fn init_errors_are_taken_during_init_only_and_a_repeated_report_is_accepted_again() {
    let mut p = platform(Mode::Classic);
    let a = ext_id(&register(&mut p, "ext-a", &[EventType::Shutdown]));
    let b = ext_id(&register(&mut p, "ext-b", &[EventType::Shutdown]));
    let report = ErrorReport::new("Extension.Init", "no config");
    call(&mut p, 1, ext::next(&addr(), &b).unwrap());
    let late = call(&mut p, 2, ext::init_error(&addr(), &b, &report).unwrap()).unwrap();
    assert_eq!((late.status().as_u16(), error_type(&late).as_str()), (403, "InvalidStateTransition"));
    let first = call(&mut p, 3, ext::init_error(&addr(), &a, &report).unwrap()).unwrap();
    assert_eq!(first.status(), 202);
    assert!(events(&mut p).iter().any(|e| matches!(e, PlatformEvent::InitFailed { .. })));
    let again = call(&mut p, 4, ext::init_error(&addr(), &a, &report).unwrap()).unwrap();
    assert_eq!(again.status(), 202, "its first answer was lost");
    assert!(events(&mut p).is_empty(), "one failure, recorded once");
    let next = call(&mut p, 5, ext::next(&addr(), &a).unwrap()).unwrap();
    assert_eq!(next.status(), 403, "every other call of a failed extension is refused");
}

#[test]
fn a_request_id_in_use_or_remembered_is_refused() {
    use lambda_sansio::platform::PlatformError;
    let mut p = PlatformMachine::new(PlatformConfig {
        mode: Mode::Concurrent { max: NonZeroU16::new(4).unwrap() },
        ..PlatformConfig::new("fn")
    });
    let duplicate = |p: &mut PlatformMachine, id: &str| {
        matches!(p.invoke(invocation(id, None)), Err(PlatformError::DuplicateRequestId(_)))
    };
    p.invoke(invocation("queued", None)).unwrap();
    assert!(duplicate(&mut p, "queued"));
    call(&mut p, 1, rt::next(&addr()).unwrap()).unwrap();
    assert!(duplicate(&mut p, "queued"), "now active");
    assert!(p.timeout(&RequestId::new("queued").unwrap(), DeadlineMs(5)));
    assert!(duplicate(&mut p, "queued"), "now remembered as expired");
    p.invoke(invocation("big", None)).unwrap();
    call(&mut p, 2, rt::next(&addr()).unwrap()).unwrap();
    let head = rt::response(&addr(), &RequestId::new("big").unwrap(), None, Bytes::new(), None).unwrap();
    p.handle_unreadable_request(ConnId(3), &head, lambda_sansio::platform::UnreadableBody::TooLarge);
    assert!(duplicate(&mut p, "big"), "ended by the platform and remembered");
    assert!(p.invoke(invocation("fresh", None)).is_ok());
}

#[test]
fn the_platform_reports_what_is_queued_and_what_is_active() {
    let mut p = PlatformMachine::new(PlatformConfig {
        mode: Mode::Concurrent { max: NonZeroU16::new(2).unwrap() },
        ..PlatformConfig::new("fn")
    });
    for id in ["a", "b", "c"] {
        p.invoke(invocation(id, None)).unwrap();
    }
    assert_eq!(p.queued_invocations(), 3);
    call(&mut p, 1, rt::next(&addr()).unwrap()).unwrap();
    call(&mut p, 2, rt::next(&addr()).unwrap()).unwrap();
    assert_eq!(p.queued_invocations(), 1);
    let active: Vec<&str> = p.active_invocations().map(|id| id.as_str()).collect();
    assert_eq!(active, ["a", "b"]);
    answer(&mut p, "a", None, Bytes::new());
    let active: Vec<&str> = p.active_invocations().map(|id| id.as_str()).collect();
    assert_eq!(active, ["b"]);
}

#[test]
fn classic_invocations_go_on_without_an_extension_that_failed() {
    let mut p = platform(Mode::Classic);
    let id = ext_id(&register(&mut p, "ext-a", &[EventType::Invoke, EventType::Shutdown]));
    p.invoke(invocation("r1", None)).unwrap();
    p.invoke(invocation("r2", None)).unwrap();
    p.handle_request(ConnId(2), &ext::next(&addr(), &id).unwrap());
    p.handle_request(ConnId(1), &rt::next(&addr()).unwrap());
    std::iter::from_fn(|| p.poll_response()).for_each(drop);
    let report = ErrorReport::new("Extension.Crash", "failed");
    assert_eq!(call(&mut p, 2, ext::exit_error(&addr(), &id, &report).unwrap()).unwrap().status(), 202);
    assert_eq!(answer(&mut p, "r1", None, Bytes::new()).status(), 202);
    let next = call(&mut p, 4, rt::next(&addr()).unwrap()).expect("r2 is delivered at once");
    assert_eq!(next.headers()["lambda-runtime-aws-request-id"], "r2");
}

#[test]
fn an_invocation_is_over_only_after_every_invoke_extension_called_next() {
    let mut p = platform(Mode::Classic);
    let id = ext_id(&register(&mut p, "ext-a", &[EventType::Invoke]));
    p.invoke(invocation("r1", None)).unwrap();
    p.handle_request(ConnId(2), &ext::next(&addr(), &id).unwrap());
    p.handle_request(ConnId(1), &rt::next(&addr()).unwrap());
    std::iter::from_fn(|| p.poll_response()).for_each(drop);
    events(&mut p);
    assert_eq!(answer(&mut p, "r1", None, Bytes::from_static(b"ok")).status(), 202);
    let answered = events(&mut p);
    assert!(matches!(&answered[..], [PlatformEvent::InvocationCompleted { .. }]), "{answered:?}");
    p.handle_request(ConnId(2), &ext::next(&addr(), &id).unwrap());
    let over = events(&mut p);
    assert!(
        matches!(&over[..], [PlatformEvent::InvocationEnded { request_id }] if request_id.as_str() == "r1"),
        "the report is due once the extension called next: {over:?}"
    );
}

#[test]
fn under_managed_instances_an_answered_invocation_is_over_at_once() {
    let mut p = platform(Mode::Concurrent { max: NonZeroU16::new(2).unwrap() });
    p.invoke(invocation("r1", None)).unwrap();
    call(&mut p, 1, rt::next(&addr()).unwrap()).unwrap();
    events(&mut p);
    answer(&mut p, "r1", None, Bytes::new());
    let kinds: Vec<&str> = events(&mut p)
        .iter()
        .map(|e| match e {
            PlatformEvent::InvocationCompleted { .. } => "completed",
            PlatformEvent::InvocationEnded { .. } => "ended",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["completed", "ended"]);
}

#[test]
fn the_environment_may_freeze_only_when_everyone_waits_in_next_between_invocations() {
    let mut p = platform(Mode::Classic);
    let id = ext_id(&register(&mut p, "ext-a", &[EventType::Invoke, EventType::Shutdown]));
    assert!(!p.may_freeze(), "during init");
    p.handle_request(ConnId(2), &ext::next(&addr(), &id).unwrap());
    p.handle_request(ConnId(1), &rt::next(&addr()).unwrap());
    assert!(p.may_freeze(), "init done, both parked in next");
    p.invoke(invocation("r1", None)).unwrap();
    std::iter::from_fn(|| p.poll_response()).for_each(drop);
    assert!(!p.may_freeze(), "an invocation is running");
    answer(&mut p, "r1", None, Bytes::from_static(b"ok"));
    p.handle_request(ConnId(1), &rt::next(&addr()).unwrap());
    assert!(!p.may_freeze(), "the extension has not called next after INVOKE");
    p.handle_request(ConnId(2), &ext::next(&addr(), &id).unwrap());
    assert!(p.may_freeze(), "everyone called next again");
    p.connection_closed(ConnId(1));
    assert!(!p.may_freeze(), "the runtime's poll is gone");
    p.handle_request(ConnId(3), &rt::next(&addr()).unwrap());
    p.shutdown(ShutdownReason::Spindown, DeadlineMs(5));
    assert!(!p.may_freeze(), "shutting down");
    let mut managed = platform(Mode::Concurrent { max: NonZeroU16::new(2).unwrap() });
    managed.handle_request(ConnId(1), &rt::next(&addr()).unwrap());
    assert!(managed.is_initialized() && !managed.may_freeze(), "Managed Instances never freeze");
}
