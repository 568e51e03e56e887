//! Small contracts of the runtime side: which ids are salvaged from an
//! unreadable answer, the mode a machine reports and whether it exports
//! the trace id.

#![allow(clippy::unwrap_used)]

use std::num::NonZeroU16;

use lambda_sansio::runtime::{salvage_ids, Mode, RuntimeConfig, RuntimeMachine};
use lambda_sansio::ApiAddress;

#[test]
fn only_the_named_headers_are_salvaged_and_the_first_of_each_counts() {
    let head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: r-1\r\n\
Lambda-Runtime-Invocation-Id: nonce-1\r\nLambda-Runtime-Invocation-Id: nonce-2\r\nLambda-Runtime-Aws-Request-Id: r-2\r\n";
    let (request_id, invocation_id) = salvage_ids(head).unwrap();
    assert_eq!(request_id.as_str(), "r-1");
    assert_eq!(invocation_id.unwrap().as_str(), "nonce-1");
    let without =
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: r-3\r\n";
    let (request_id, invocation_id) = salvage_ids(without).unwrap();
    assert_eq!((request_id.as_str(), invocation_id), ("r-3", None), "no other header is taken for the nonce");
    assert!(salvage_ids(b"HTTP/1.1 200 OK\r\nContent-Type: x\r\n").is_none());
}

#[test]
fn a_machine_reports_the_mode_it_was_configured_with() {
    let address = ApiAddress::parse("127.0.0.1:9001").unwrap();
    let concurrent = Mode::Concurrent { max: NonZeroU16::new(3).unwrap() };
    let machine =
        RuntimeMachine::new(RuntimeConfig { mode: concurrent, ..RuntimeConfig::new(address.clone()) });
    assert_eq!(machine.mode(), concurrent);
    assert_eq!(RuntimeMachine::new(RuntimeConfig::new(address)).mode(), Mode::Classic);
}

#[test]
fn the_trace_id_is_exported_by_classic_machines_that_ask_for_it_only() {
    let address = ApiAddress::parse("127.0.0.1:9001").unwrap();
    let concurrent = Mode::Concurrent { max: NonZeroU16::new(2).unwrap() };
    let exports = |mode, trace_id_env| {
        let config = RuntimeConfig { mode, trace_id_env, ..RuntimeConfig::new(address.clone()) };
        RuntimeMachine::new(config).exports_trace_id_env()
    };
    assert!(RuntimeConfig::new(address.clone()).trace_id_env, "on by default, as Lambda asks");
    assert!(exports(Mode::Classic, true));
    assert!(!exports(Mode::Classic, false));
    assert!(!exports(concurrent, true), "concurrent runtimes never touch the environment");
}
