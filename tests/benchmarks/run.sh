#!/usr/bin/env bash
# Run every benchmark: bash tests/benchmarks/run.sh [--quick]
# Each bench_*.py measures dmpopt against a baseline in the same run and prints ratios.
# Not part of the unit suite (pytest ignores this folder).
set -uo pipefail
cd "$(dirname "$0")/../.."
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3
status=0
for bench in tests/benchmarks/bench_*.py; do
  echo "=== $bench $*"
  "$PY" "$bench" "$@" || { echo "FAILED: $bench"; status=1; }
done
exit $status
