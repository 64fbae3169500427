#!/usr/bin/env bash
# scripts/bench.sh — measure, side by side in one run: the cost of mlflowpp's log_metric on
# the training thread (Google Benchmark, no network), and N points end to end against a
# real local MLflow server with mlflowpp and with the official Python client (async,
# log_batch, synchronous), then the same into a local sqlite:/// database with no server
# (mlflowpp's embedded store on one core, beside the Python client's SqlAlchemyStore). Not
# part of the test suite. Usage: scripts/bench.sh [POINTS]
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

points="${1:-100000}"
install_system_deps
_deb_installed libbenchmark-dev || _apt_install libbenchmark-dev
ensure_venv
BUILD_DIR="$ROOT/build-bench"
cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DMLFLOWPP_BUILD_TESTS=OFF \
    -DMLFLOWPP_BUILD_EXAMPLES=OFF -DMLFLOWPP_BUILD_BENCHMARKS=ON >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"

trap 'stop_mlflow_server bench || true' EXIT
start_mlflow_server bench

echo "== hot path (no network)"
"$BUILD_DIR/bench/mlflowpp_bench_log_metric" --benchmark_counters_tabular=true
echo "== end to end, $points points, server $MLFLOW_TRACKING_URI"
"$BUILD_DIR/bench/mlflowpp_bench_end_to_end" "$points"
MLFLOW_TRACKING_URI="$MLFLOW_TRACKING_URI" "$VENV/bin/python" "$ROOT/bench/python_end_to_end.py" "$points" async batch sync

# No server: each client writes a fresh database of its own (mlflowpp pinned to one core).
local_dir="$(mktemp -d)"
trap 'stop_mlflow_server bench || true; rm -rf "$local_dir"' EXIT
echo "== local store (no server), $points points, sqlite:///$local_dir/<client>.db"
(cd "$local_dir" && MLFLOW_TRACKING_URI="sqlite:///$local_dir/mlflowpp.db" \
    taskset -c 0 "$BUILD_DIR/bench/mlflowpp_bench_end_to_end" "$points")
(cd "$local_dir" && MLFLOW_TRACKING_URI="sqlite:///$local_dir/python.db" \
    "$VENV/bin/python" "$ROOT/bench/python_end_to_end.py" "$points" batch sync)
