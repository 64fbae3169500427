#!/usr/bin/env bash
# scripts/soak.sh — the durability soak, run by hand (not part of CI): a process logs
# RATE metric points per second for the whole run while the local MLflow server is
# stopped for OUTAGE seconds and started again on the same port and database. At the end
# the process checks that the server holds every point and prints its peak memory.
# Usage: scripts/soak.sh [RATE=10000] [OUTAGE=600] [BEFORE=30] [AFTER=60]   (END_WAIT=3600 s)
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

rate="${1:-10000}" outage="${2:-600}" before="${3:-30}" after="${4:-60}"
install_system_deps
ensure_venv
BUILD_DIR="$ROOT/build-bench"
cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DMLFLOWPP_BUILD_TESTS=OFF \
    -DMLFLOWPP_BUILD_EXAMPLES=OFF -DMLFLOWPP_BUILD_BENCHMARKS=ON >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)" --target mlflowpp_soak_outage

trap 'stop_mlflow_server soak || true' EXIT
start_mlflow_server soak
dir="$STATE_DIR/servers/soak"
port="$(<"$dir/port")"
export MLFLOWPP_SPOOL_DIR="$STATE_DIR/soak-spool"
# Ending the run waits until the server has caught up (one local SQLite server takes
# about 9,000 points/s here, so the backlog of an outage at 10,000/s takes a while).
export MLFLOWPP_END_RUN_FLUSH_TIMEOUT_S="${END_WAIT:-3600}"
rm -rf "$MLFLOWPP_SPOOL_DIR"

total=$((before + outage + after))
log "soak: $rate points/s for $total s; server down from ${before}s for ${outage}s"
"$BUILD_DIR/bench/mlflowpp_soak_outage" "$rate" "$total" &
soak_pid=$!
sleep "$before"
log "soak: stopping the server"
_stop_server_dir "$dir"
sleep "$outage"
log "soak: starting the server again on port $port"
_launch_server "$dir" "" "$port" || die "could not restart the server"
rc=0
wait "$soak_pid" || rc=$?
log "soak: spool folder after the run: $(du -sh "$MLFLOWPP_SPOOL_DIR" 2>/dev/null | cut -f1)"
exit "$rc"
