#!/usr/bin/env bash
# The forwarder benchmark (#13's figures): this project's extension against
# the same forwarding written with the official `lambda-extension` crate,
# built here from crates.io. Not part of CI.
#
#   bash bench/forwarder.sh [--invocations N] [--rounds R]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p lambda-sansio-extension -p lambda-sansio-test-support --examples
cargo build --release --locked -p lambda-sansio-extension
cargo build --release -p lambda-sansio-blocking --features tracing --example blocking_logging
(cd bench/lambda-extension-forwarder && cargo build --release --target-dir ../../target/bench)
# The function's own log lines (the emulator passes them through) are left out.
target/release/examples/bench_forwarder "$@" \
    lambda-sansio-extension=target/release/lambda-sansio-extension \
    lambda-extension=target/bench/release/lambda-extension-forwarder | grep -v 'requestId='
