#!/usr/bin/env bash
# The HTTP benchmarks (#12's figures). Not part of CI.
#  1. Web adapters: this project's `bootstrap` in web mode against the Lambda
#     Web Adapter 1.0.0-rc1 (`lambda-adapter`, installed here from
#     crates.io), the same Python app behind each, in both write patterns.
#  2. HTTP handlers: the same echo with `http_handler` (both transports) and
#     with `lambda_http` (built here from crates.io), one API Gateway HTTP API
#     event with a 1 KiB body.
#
#   bash bench/http.sh [--requests N] [--rounds R]
set -euo pipefail
cd "$(dirname "$0")/.."
requests=2000 rounds=3
while [ $# -gt 0 ]; do
    case "$1" in
        --requests) requests="$2"; shift 2 ;;
        --rounds) rounds="$2"; shift 2 ;;
        *) echo "usage: bash bench/http.sh [--requests N] [--rounds R]" >&2; exit 2 ;;
    esac
done
cargo build --release --locked -p lambda-sansio-bootstrap
cargo build --release --locked --workspace --examples
[ -x target/bench-tools/bin/lambda-adapter ] ||
    cargo install lambda_web_adapter --version 1.0.0-rc1 --locked --root target/bench-tools
(cd bench/lambda-http-echo && cargo build --release --target-dir ../../target/bench)
# The interpreter itself, not a version manager's shim: a shim's start-up
# varies by tens of milliseconds and would drown the adapters' own.
python=$(python3 -c 'import sys; print(sys.executable)')
for writes in two one; do
    one=0; [ "$writes" = one ] && one=1
    echo "## web adapters, the app writing each answer in $writes write(s)"
    target/release/examples/bench_web --requests "$requests" --rounds "$rounds" \
        --app "env BENCH_APP_ONE_WRITE=$one $python $PWD/bench/web_app.py" \
        --bootstrap target/release/bootstrap --adapter target/bench-tools/bin/lambda-adapter
done
echo "## HTTP handlers, the same echo"
target/release/examples/bench_e2e --invocations "$requests" --rounds "$rounds" --event bench/http-event.json \
    lambda_http=target/bench/release/lambda-http-echo \
    hyper-http_handler=target/release/examples/hyper_http_echo \
    blocking-http_handler=target/release/examples/blocking_http_echo
