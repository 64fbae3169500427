#!/usr/bin/env bash
# scripts/demo.sh — build mlflowpp and train a small digits classifier in C++ that
# logs to MLflow, then print the link to the run in the MLflow UI. Usage:
#
#   scripts/demo.sh [TRAIN_DIGITS_ARGS...]   build, (start a server,) run the example
#   scripts/demo.sh --stop                   stop the demo's MLflow server
#
# With MLFLOW_TRACKING_URI set, the example logs there. Otherwise the script starts a
# local MLflow server (state in .mlflowpp-state/demo-server) and leaves it running so
# that the run can be browsed; later runs of the script reuse it.
# MLFLOW_EXPERIMENT_NAME defaults to "digits".
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DEMO_DIR="$STATE_DIR/demo-server"
# Its own Release build of the library and the example only (no tests), so that the demo is
# quick and leaves the test build in $BUILD_DIR alone.
DEMO_BUILD_DIR="${MLFLOWPP_DEMO_BUILD_DIR:-$ROOT/build-demo}"
TRAIN_DIGITS="$DEMO_BUILD_DIR/examples/train_digits/train_digits"

# True if PORT on 127.0.0.1 can be bound right now.
port_free() {
    python3 -c "import socket, sys
s = socket.socket()
try:
    s.bind(('127.0.0.1', int(sys.argv[1])))
except OSError:
    sys.exit(1)" "$1" 2>/dev/null
}

# Make sure the demo server runs and is healthy; export MLFLOW_TRACKING_URI to it.
# Unlike start_mlflow_server, its data persists across restarts and it is never
# stopped at exit.
ensure_demo_server() {
    if _server_healthy "$DEMO_DIR"; then
        MLFLOW_TRACKING_URI="$(<"$DEMO_DIR/uri")"
        export MLFLOW_TRACKING_URI
        log "reusing the running demo server at $MLFLOW_TRACKING_URI"
        return 0
    fi
    _stop_server_dir "$DEMO_DIR"    # alive but unhealthy, or a stale pid file
    # Keep the previous port when it's free, so earlier links keep working.
    local port=""
    if [[ -f $DEMO_DIR/port ]] && port_free "$(<"$DEMO_DIR/port")"; then
        port="$(<"$DEMO_DIR/port")"
    fi
    _launch_server "$DEMO_DIR" "" "$port" || die "could not start the demo mlflow server"
}

if [[ ${1:-} == --stop ]]; then
    _stop_server_dir "$DEMO_DIR"
    exit 0
fi

install_system_deps
demo_gen=()
command -v ninja >/dev/null 2>&1 && [[ ! -f $DEMO_BUILD_DIR/CMakeCache.txt ]] && demo_gen=(-G Ninja)
log "configuring $DEMO_BUILD_DIR (Release, library and train_digits only)"
cmake -S "$ROOT" -B "$DEMO_BUILD_DIR" "${demo_gen[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DMLFLOWPP_BUILD_TESTS=OFF -DMLFLOWPP_BUILD_BENCHMARKS=OFF -DMLFLOWPP_BUILD_EXAMPLES=ON \
    -DMLFLOWPP_BUILD_LIBTORCH_EXAMPLE=OFF -DMLFLOWPP_INSTALL=OFF >/dev/null
cmake --build "$DEMO_BUILD_DIR" -j"$(nproc)" --target train_digits
[[ -x $TRAIN_DIGITS ]] || die "$TRAIN_DIGITS was not built"

managed_server=0
if [[ -z ${MLFLOW_TRACKING_URI:-} ]]; then
    ensure_venv
    ensure_demo_server
    managed_server=1
fi
export MLFLOW_TRACKING_URI="${MLFLOW_TRACKING_URI%/}"
export MLFLOW_EXPERIMENT_NAME="${MLFLOW_EXPERIMENT_NAME:-digits}"
log "logging to $MLFLOW_TRACKING_URI, experiment '$MLFLOW_EXPERIMENT_NAME'"

# Run the example, showing its output live and keeping it for the run id, which the
# example prints as its last line: run_id=<id>.
out_log="$STATE_DIR/train_digits.log"
mkdir -p "$STATE_DIR"
"$TRAIN_DIGITS" "$@" | tee "$out_log"
last_line="$(tail -n 1 "$out_log" | tr -d '\r')"
[[ $last_line == run_id=* ]] \
    || die "expected 'run_id=<id>' as the last line of train_digits' output, got: $last_line"
run_id="${last_line#run_id=}"
run_id="${run_id//[[:space:]]/}"

# Look up the run's experiment id for the UI link (same auth as the MLflow clients).
curl_args=(-sS --max-time 30)
if [[ -n ${MLFLOW_TRACKING_TOKEN:-} ]]; then
    curl_args+=(-H "Authorization: Bearer $MLFLOW_TRACKING_TOKEN")
elif [[ -n ${MLFLOW_TRACKING_USERNAME:-} ]]; then
    curl_args+=(-u "$MLFLOW_TRACKING_USERNAME:${MLFLOW_TRACKING_PASSWORD:-}")
fi
[[ ${MLFLOW_TRACKING_INSECURE_TLS:-false} == true ]] && curl_args+=(-k)

exp_id="$(curl "${curl_args[@]}" "$MLFLOW_TRACKING_URI/api/2.0/mlflow/runs/get?run_id=$run_id" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["run"]["info"]["experiment_id"])')" \
    || die "could not look up run $run_id at $MLFLOW_TRACKING_URI"

echo
echo "View the run at: $MLFLOW_TRACKING_URI/#/experiments/$exp_id/runs/$run_id"
if [[ $managed_server -eq 1 ]]; then
    echo "The demo MLflow server keeps running (log: $DEMO_DIR/server.log);" \
         "stop it with: scripts/demo.sh --stop"
fi
