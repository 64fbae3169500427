#!/usr/bin/env bash
# scripts/bench.sh — measure mlflowpp side by side with the official Python client and curl,
# in one run, on the same machine and the same servers (issue 11). Installs what it needs
# (Google Benchmark and PostgreSQL from Debian's packages, the pinned mlflow and psycopg from
# PyPI), builds the benchmark programs (Release), starts two tracking servers (SQLite with
# one worker; PostgreSQL with four workers), runs every scenario of bench/scenarios/ and
# writes OUT/latest.md (tables) and OUT/latest.json (figures, ratios, the machine).
#
#   scripts/bench.sh [--quick] [--only a,b,...] [--out DIR] [--build-dir DIR]
#
#   --quick      every scenario small (a few minutes; the figures mean nothing). Writes to
#                $STATE_DIR/bench-quick unless --out says otherwise; the test suite runs it.
#   --only       the scenarios to run (ids a..h; default all)
#   --out        where the results go (default bench/results)
#   --build-dir  use the benchmark programs already built there (bench/ of a build with
#                MLFLOWPP_BUILD_BENCHMARKS=ON) instead of building build-bench
#
# Servers run on core 0 and the logging processes on core 1 where a scenario pins them.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

quick=0 only="" out="" build_dir=""
while [[ $# -gt 0 ]]; do
    case $1 in
        --quick) quick=1; shift ;;
        --only) only=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --build-dir) build_dir=$2; shift 2 ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
        *) die "unknown option $1 (see scripts/bench.sh --help)" ;;
    esac
done
tag=bench
if [[ $quick == 1 ]]; then
    tag=bench-quick
    [[ -n $out ]] || out="$STATE_DIR/bench-quick"
fi
[[ -n $out ]] || out="$ROOT/bench/results"

cleanup() {
    stop_mlflow_server "$tag-sqlite" || true
    stop_mlflow_server "$tag-pg" || true
    stop_postgres "$tag" || true
    [[ -n ${spool:-} ]] && rm -rf "$spool"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

install_system_deps "${MLFLOWPP_BUILD_PACKAGES[@]}" "${MLFLOWPP_UI_PACKAGES[@]}" \
    "${MLFLOWPP_POSTGRES_PACKAGES[@]}" "${MLFLOWPP_BENCH_PACKAGES[@]}"
ensure_venv
ensure_venv_postgres

if [[ -z $build_dir ]]; then
    build_dir="$ROOT/build-bench"
    log "building the benchmark programs in $build_dir (Release)"
    cmake -S "$ROOT" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DMLFLOWPP_BUILD_TESTS=OFF \
        -DMLFLOWPP_BUILD_EXAMPLES=OFF -DMLFLOWPP_BUILD_BENCHMARKS=ON >/dev/null
    cmake --build "$build_dir" -j"$(nproc)"
fi
build_dir="$(cd "$build_dir" && pwd -P)"
[[ -d $build_dir/bench ]] || die "no benchmark programs in $build_dir/bench (MLFLOWPP_BUILD_BENCHMARKS=ON?)"

start_postgres "$tag"
start_mlflow_server "$tag-sqlite" --workers 1
sqlite_uri=$MLFLOW_TRACKING_URI
start_mlflow_server "$tag-pg" --backend-store-uri "$MLFLOWPP_POSTGRES_URI" --workers 4
pg_uri=$MLFLOW_TRACKING_URI
unset MLFLOW_TRACKING_URI

spool="$(mktemp -d "${TMPDIR:-/tmp}/mlflowpp-bench-spool-XXXXXX")"
export MLFLOWPP_SPOOL_DIR="$spool"
export MLFLOWPP_BENCH_BIN="$build_dir/bench"
export MLFLOWPP_LIB_SH="$ROOT/scripts/lib.sh"
MLFLOWPP_BENCH_SERVERS="$(printf '{"sqlite": {"name": "%s", "uri": "%s", "dir": "%s", "backend": "sqlite", "workers": 1}, "pg": {"name": "%s", "uri": "%s", "dir": "%s", "backend": "postgresql", "workers": 4}}' \
    "$tag-sqlite" "$sqlite_uri" "$STATE_DIR/servers/$tag-sqlite" "$tag-pg" "$pg_uri" "$STATE_DIR/servers/$tag-pg")"
export MLFLOWPP_BENCH_SERVERS

args=(--out "$out")
[[ $quick == 1 ]] && args+=(--quick)
[[ -n $only ]] && args+=(--only "$only")
log "running the scenarios${only:+ $only}$([[ $quick == 1 ]] && echo ' (--quick)')"
"$VENV/bin/python" "$ROOT/bench/run.py" "${args[@]}"
