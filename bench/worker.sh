#!/usr/bin/env bash
# The worker benchmark (#11's figures): the same Python echo handler run by
# `bootstrap` in worker mode and by AWS's runtime interface client
# `awslambdaric` (in the venv the interop tests install), same Python, with
# bench_e2e (CPU of every process involved, exec → first next, peak RSS).
# Not part of CI.
#
#   bash bench/worker.sh [--one-cpu] [--invocations N] [--rounds R]
#
# --one-cpu runs everything (the emulator included) on CPU 0, as on a Lambda
# function with one vCPU, where the Runtime API server shares it too.
set -euo pipefail
pin=()
if [ "${1:-}" = --one-cpu ]; then pin=(taskset -c 0); shift; fi
cd "$(dirname "$0")/.."
root=$PWD
python=$root/target/awslambdaric-venv/bin/python
[ -x "$python" ] || { echo "run the interop tests first (cargo test -p lambda-sansio-test-support --test emulator_interop) to install awslambdaric" >&2; exit 2; }
cargo build --release --locked -p lambda-sansio-bootstrap
cargo build --release --locked -p lambda-sansio-test-support --example bench_e2e
scripts=$root/target/bench/worker
mkdir -p "$scripts"
cat > "$scripts/sansio-worker" <<SCRIPT
#!/bin/sh
export LAMBDA_SANSIO_MODE=worker _HANDLER="exec $python $root/bench/worker/worker_echo.py" LAMBDA_TASK_ROOT=$root/bench/worker
cd $root/bench/worker && exec $root/target/release/bootstrap
SCRIPT
cat > "$scripts/awslambdaric" <<SCRIPT
#!/bin/sh
cd $root/bench/worker && exec $python -m awslambdaric echo.handle
SCRIPT
chmod +x "$scripts/sansio-worker" "$scripts/awslambdaric"
"${pin[@]}" target/release/examples/bench_e2e "$@" awslambdaric="$scripts/awslambdaric" bootstrap-worker="$scripts/sansio-worker"
