#!/usr/bin/env bash
# scripts/demo.sh — build mlflowpp and train a small digits classifier in C++ that logs to
# MLflow. Usage:
#
#   scripts/demo.sh [TRAIN_DIGITS_ARGS...]   build and run the example
#   scripts/demo.sh --ui [--port PORT]       open the MLflow UI on ./mlflow.db (installs
#                                            the pinned mlflow in a venv for this only)
#   scripts/demo.sh --stop                   stop a demo server left by older versions
#
# With MLFLOW_TRACKING_URI unset, the example writes ./mlflow.db and ./mlruns/ in the folder
# the script is started from (mlflowpp's embedded local store: no server, no Python), as
# the Python client would, and the script prints the one command that shows the run in the
# MLflow UI. With MLFLOW_TRACKING_URI set (a server, or sqlite:///path) it logs there.
# MLFLOW_EXPERIMENT_NAME defaults to "digits".
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DEMO_DIR="$STATE_DIR/demo-server"
# Its own Release build of the library and the example only (no tests), so that the demo is
# quick and leaves the test build in $BUILD_DIR alone.
DEMO_BUILD_DIR="${MLFLOWPP_DEMO_BUILD_DIR:-$ROOT/build-demo}"
TRAIN_DIGITS="$DEMO_BUILD_DIR/examples/train_digits/train_digits"
START_DIR="$PWD"

if [[ ${1:-} == --stop ]]; then
    _stop_server_dir "$DEMO_DIR"
    exit 0
fi

# --ui: the MLflow UI (the pinned `mlflow server`) on the database in the current folder.
if [[ ${1:-} == --ui ]]; then
    shift
    port=5000
    [[ ${1:-} == --port && -n ${2:-} ]] && port=$2
    db="$START_DIR/mlflow.db"
    [[ -f $db ]] || die "no mlflow.db in $START_DIR: run scripts/demo.sh here first"
    install_system_deps "${MLFLOWPP_UI_PACKAGES[@]}"
    ensure_venv
    log "MLflow UI on sqlite:///$db at http://127.0.0.1:$port (Ctrl-C stops it)"
    export MLFLOW_DISABLE_TELEMETRY=true MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false
    cd "$START_DIR"
    exec "$VENV/bin/python" -m mlflow server --backend-store-uri "sqlite:///$db" \
        --host 127.0.0.1 --port "$port" --workers 1
fi

install_system_deps "${MLFLOWPP_BUILD_PACKAGES[@]}"
demo_gen=()
command -v ninja >/dev/null 2>&1 && [[ ! -f $DEMO_BUILD_DIR/CMakeCache.txt ]] && demo_gen=(-G Ninja)
log "configuring $DEMO_BUILD_DIR (Release, library and train_digits only)"
cmake -S "$ROOT" -B "$DEMO_BUILD_DIR" "${demo_gen[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DMLFLOWPP_BUILD_TESTS=OFF -DMLFLOWPP_BUILD_BENCHMARKS=OFF -DMLFLOWPP_BUILD_EXAMPLES=ON \
    -DMLFLOWPP_BUILD_LIBTORCH_EXAMPLE=OFF -DMLFLOWPP_BUILD_TOOLS=OFF -DMLFLOWPP_INSTALL=OFF >/dev/null
cmake --build "$DEMO_BUILD_DIR" -j"$(nproc)" --target train_digits
[[ -x $TRAIN_DIGITS ]] || die "$TRAIN_DIGITS was not built"

export MLFLOW_EXPERIMENT_NAME="${MLFLOW_EXPERIMENT_NAME:-digits}"
uri="${MLFLOW_TRACKING_URI:-}"
uri="${uri%/}"
if [[ -z $uri ]]; then
    log "no MLFLOW_TRACKING_URI: logging into $START_DIR/mlflow.db (and $START_DIR/mlruns/), experiment '$MLFLOW_EXPERIMENT_NAME'"
else
    export MLFLOW_TRACKING_URI="$uri"
    log "logging to $uri, experiment '$MLFLOW_EXPERIMENT_NAME'"
fi

# Run the example in the folder the script was started from, showing its output live and
# keeping it for the run id, which the example prints as its last line: run_id=<id>.
out_log="$(mktemp)"
trap 'rm -f "$out_log"' EXIT
(cd "$START_DIR" && "$TRAIN_DIGITS" "$@") | tee "$out_log"
last_line="$(tail -n 1 "$out_log" | tr -d '\r')"
[[ $last_line == run_id=* ]] \
    || die "expected 'run_id=<id>' as the last line of train_digits' output, got: $last_line"
run_id="${last_line#run_id=}"
run_id="${run_id//[[:space:]]/}"

echo
case "$uri" in
    "" | sqlite:*)
        db="$START_DIR/mlflow.db"
        [[ -n $uri ]] && db="$(cd "$START_DIR" && realpath -m -- "${uri#sqlite:///}")"
        echo "Run $run_id is in $db (artifacts under $START_DIR/mlruns/)."
        echo "Show it in the MLflow UI with:  $ROOT/scripts/demo.sh --ui   (from $START_DIR)"
        echo "or, with MLflow installed:      mlflow ui --backend-store-uri sqlite:///$db"
        ;;
    *)
        # Look up the run's experiment id for the UI link (same auth as the MLflow clients).
        curl_args=(-sS --max-time 30)
        if [[ -n ${MLFLOW_TRACKING_TOKEN:-} ]]; then
            curl_args+=(-H "Authorization: Bearer $MLFLOW_TRACKING_TOKEN")
        elif [[ -n ${MLFLOW_TRACKING_USERNAME:-} ]]; then
            curl_args+=(-u "$MLFLOW_TRACKING_USERNAME:${MLFLOW_TRACKING_PASSWORD:-}")
        fi
        [[ ${MLFLOW_TRACKING_INSECURE_TLS:-false} == true ]] && curl_args+=(-k)
        exp_id="$(curl "${curl_args[@]}" "$uri/api/2.0/mlflow/runs/get?run_id=$run_id" \
            | sed -n 's/.*"experiment_id": *"\([0-9]*\)".*/\1/p')" || true
        if [[ -n $exp_id ]]; then
            # workflowType: the "Model training" view (MLflow 3's UI opens GenAI by default).
            echo "View the run at: ${uri%/}/#/experiments/$exp_id/runs/$run_id?workflowType=machine_learning"
        else
            echo "Run $run_id logged to $uri"
        fi
        ;;
esac
