#!/usr/bin/env bash
# Throughput of a large artifact through MLflow's artifact proxy: mlflowpp's upload and
# download (tests/integration/probes/artifact_probe.cpp, which also reports its peak memory)
# next to curl on the same endpoints (curl -T: one PUT; curl -o: one GET). Measures, asserts
# nothing; not part of the test suite or CI.
#
#   TRACKING_URI=http://127.0.0.1:5000 scripts/bench_artifacts.sh
#
# Variables: TRACKING_URI (default $MLFLOW_TRACKING_URI; an http(s) server with
# --serve-artifacts), SIZE_MIB (default 2048), REPEAT (default 1), WORK_DIR (where the
# generated file and the downloads go; default a new directory under ${TMPDIR:-/tmp}, removed
# at the end), PROBE (default $BUILD_DIR/tests/mlflowpp_artifact_probe, BUILD_DIR default
# build). The file is generated, never committed; the artifacts are deleted at the end.
# Needs 2 x SIZE_MIB free in WORK_DIR, and SIZE_MIB on the server's disk.
set -euo pipefail

TRACKING_URI="${TRACKING_URI:-${MLFLOW_TRACKING_URI:-}}"
TRACKING_URI="${TRACKING_URI%/}"
SIZE_MIB="${SIZE_MIB:-2048}"
REPEAT="${REPEAT:-1}"
BUILD_DIR="${BUILD_DIR:-build}"
PROBE="${PROBE:-$BUILD_DIR/tests/mlflowpp_artifact_probe}"

if [[ -z "$TRACKING_URI" ]]; then
    echo "set TRACKING_URI (or MLFLOW_TRACKING_URI) to the MLflow server" >&2
    exit 2
fi
if [[ ! -x "$PROBE" ]]; then
    echo "no probe at $PROBE: build the tests (-DMLFLOWPP_BUILD_TESTS=ON) or set PROBE" >&2
    exit 2
fi

own_work_dir=0
if [[ -z "${WORK_DIR:-}" ]]; then
    WORK_DIR="$(mktemp -d "${TMPDIR:-/tmp}/mlflowpp-bench-artifacts-XXXXXX")"
    own_work_dir=1
fi
mkdir -p "$WORK_DIR"
base=""
cleanup() {
    if [[ -n "$base" ]]; then
        curl -s -o /dev/null -X DELETE "$base" || true
    fi
    if [[ $own_work_dir == 1 ]]; then rm -rf "$WORK_DIR"; else rm -f "$WORK_DIR/big.bin"; rm -rf "$WORK_DIR/dl"; fi
}
trap cleanup EXIT

api="$TRACKING_URI/api/2.0/mlflow"
json_field() { sed -n "s/.*\"$1\": *\"\([^\"]*\)\".*/\1/p" | head -n 1; }

exp_id="$(curl -sf -X POST -H 'Content-Type: application/json' "$api/experiments/create" \
    -d "{\"name\": \"bench-artifacts-$(date +%s)-$$\"}" | tr -d '\n' | json_field experiment_id)"
run_json="$(curl -sf -X POST -H 'Content-Type: application/json' "$api/runs/create" \
    -d "{\"experiment_id\": \"$exp_id\"}" | tr -d '\n')"
run_id="$(echo "$run_json" | json_field run_id)"
artifact_uri="$(echo "$run_json" | json_field artifact_uri)"
case "$artifact_uri" in
    mlflow-artifacts:/*)
        path="${artifact_uri#mlflow-artifacts:}"
        path="/${path#"${path%%[!/]*}"}"
        base="$TRACKING_URI/api/2.0/mlflow-artifacts/artifacts$path"
        ;;
    *)
        echo "the run's artifact URI '$artifact_uri' is not served by the proxy (mlflow-artifacts:/...)" >&2
        exit 1
        ;;
esac
echo "run $run_id, artifacts at $base"

echo "generating $SIZE_MIB MiB in $WORK_DIR/big.bin"
head -c "$((SIZE_MIB * 1048576))" /dev/urandom > "$WORK_DIR/big.bin"
bytes="$(stat -c %s "$WORK_DIR/big.bin")"

mib_s() { awk -v b="$bytes" -v s="$1" 'BEGIN { printf "%.1f", b / 1048576 / s }'; }
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }

printf '\n%-28s %10s %10s %14s\n' "transfer" "seconds" "MiB/s" "peak RSS +KiB"
for _ in $(seq 1 "$REPEAT"); do
    out="$("$PROBE" upload "$TRACKING_URI" "$run_id" "$WORK_DIR/big.bin" "mlflowpp")"
    s="$(echo "$out" | field seconds)"
    growth=$(( $(echo "$out" | field hwm_after_kib) - $(echo "$out" | field hwm_before_kib) ))
    printf '%-28s %10s %10s %14s\n' "mlflowpp upload (PUT)" "$s" "$(mib_s "$s")" "$growth"

    s="$(curl -sf -o /dev/null -H 'Expect:' -T "$WORK_DIR/big.bin" -w '%{time_total}' "$base/curl/big.bin")"
    printf '%-28s %10s %10s %14s\n' "curl -T (PUT)" "$s" "$(mib_s "$s")" "-"

    rm -rf "$WORK_DIR/dl"
    out="$("$PROBE" download "$TRACKING_URI" "$run_id" "mlflowpp/big.bin" "$WORK_DIR/dl")"
    s="$(echo "$out" | field seconds)"
    growth=$(( $(echo "$out" | field hwm_after_kib) - $(echo "$out" | field hwm_before_kib) ))
    printf '%-28s %10s %10s %14s\n' "mlflowpp download (GET)" "$s" "$(mib_s "$s")" "$growth"
    cmp -s "$WORK_DIR/big.bin" "$WORK_DIR/dl/mlflowpp/big.bin" || { echo "download differs!" >&2; exit 1; }
    rm -rf "$WORK_DIR/dl"

    mkdir -p "$WORK_DIR/dl"
    s="$(curl -sf -o "$WORK_DIR/dl/curl.bin" -w '%{time_total}' "$base/curl/big.bin")"
    printf '%-28s %10s %10s %14s\n' "curl -o (GET)" "$s" "$(mib_s "$s")" "-"
    rm -rf "$WORK_DIR/dl"
done
