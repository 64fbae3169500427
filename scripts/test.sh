#!/usr/bin/env bash
# scripts/test.sh — build mlflowpp and run its whole test suite against real MLflow
# servers. Usage:
#
#   scripts/test.sh [CTEST_ARGS...]      e.g. scripts/test.sh -R unit
#
# Steps: system packages, a venv with the pinned MLflow, a RelWithDebInfo build with
# tests, two throw-away tracking servers (one plain, one behind --static-prefix
# /mlflow), nginx in front of the plain one (TLS with a throw-away CA, Basic and Bearer
# auth under path prefixes, mutual TLS), then ctest. The servers and the proxy are
# stopped on every exit path; the script exits with ctest's exit code and ends with
# ctest's summary line.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cleanup() {
    stop_tls_proxy tls || true
    stop_mlflow_server test || true
    stop_mlflow_server prefix || true
}
trap cleanup EXIT
trap 'exit 130' INT    # make Ctrl-C / kill run the EXIT trap too
trap 'exit 143' TERM

install_system_deps
ensure_venv
build_project RelWithDebInfo

# Two servers, each with fresh state.
start_mlflow_server prefix --static-prefix /mlflow
prefix_uri=$MLFLOW_TRACKING_URI
start_mlflow_server test
plain_uri=$MLFLOW_TRACKING_URI
# MLflow "as deployed": nginx with TLS and auth in front of the plain server. Exports
# MLFLOWPP_TEST_TLS_URI, MLFLOWPP_TEST_MTLS_URI, MLFLOWPP_TEST_TLS_CA,
# MLFLOWPP_TEST_TLS_CLIENT_CERT/_KEY, MLFLOWPP_TEST_BASIC_USER/_PASSWORD and
# MLFLOWPP_TEST_BEARER_TOKEN (see docs/env.md).
start_tls_proxy tls "$plain_uri"

# What the tests read (see tests/).
export MLFLOWPP_TEST_TRACKING_URI="$plain_uri"
export MLFLOW_TRACKING_URI="$plain_uri"
export MLFLOWPP_TEST_PREFIX_TRACKING_URI="$prefix_uri"
export MLFLOWPP_PYTHON="$VENV/bin/python"
export MLFLOWPP_REQUIRE_SERVER=1
# The tests' spool journals stay inside the state folder (never the user's own spool).
export MLFLOWPP_SPOOL_DIR="$STATE_DIR/test-spool"
rm -rf "$MLFLOWPP_SPOOL_DIR"
log "MLFLOWPP_TEST_TRACKING_URI=$MLFLOWPP_TEST_TRACKING_URI"
log "MLFLOWPP_TEST_PREFIX_TRACKING_URI=$MLFLOWPP_TEST_PREFIX_TRACKING_URI"
log "MLFLOWPP_TEST_TLS_URI=$MLFLOWPP_TEST_TLS_URI (/basic, /bearer), MLFLOWPP_TEST_MTLS_URI=$MLFLOWPP_TEST_MTLS_URI"
log "MLFLOWPP_PYTHON=$MLFLOWPP_PYTHON"

# Hardening (skipped when ctest arguments narrow the run, or with MLFLOWPP_HARDENING=0):
# the unit and integration tests again under AddressSanitizer + UndefinedBehaviorSanitizer
# and under ThreadSanitizer, then every libFuzzer target for a bounded time.
hardening_rc=0
if [[ $# -eq 0 && ${MLFLOWPP_HARDENING:-1} != 0 ]]; then
    san_tests=(ctest --output-on-failure --no-tests=error -j2 -L 'unit|integration|local' -LE large)
    build_variant "$ROOT/build-asan" -DCMAKE_BUILD_TYPE=Debug -DMLFLOWPP_BUILD_TESTS=ON \
        "-DCMAKE_CXX_FLAGS=-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
    log "== unit and integration tests under ASan + UBSan"
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
        "${san_tests[@]}" --test-dir "$ROOT/build-asan" || hardening_rc=1
    build_variant "$ROOT/build-tsan" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMLFLOWPP_BUILD_TESTS=ON \
        "-DCMAKE_CXX_FLAGS=-fsanitize=thread -fno-omit-frame-pointer"
    log "== unit and integration tests under TSan"
    TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
        "${san_tests[@]}" --test-dir "$ROOT/build-tsan" || hardening_rc=1
    CC=clang CXX=clang++ build_variant "$ROOT/build-fuzz" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DMLFLOWPP_BUILD_TESTS=OFF -DMLFLOWPP_BUILD_FUZZERS=ON \
        "-DCMAKE_CXX_FLAGS=-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined"
    for fuzzer in "$ROOT"/build-fuzz/fuzz/mlflowpp_fuzz_*; do
        name=$(basename "$fuzzer")
        corpus="$STATE_DIR/fuzz-corpus/$name"
        artifacts="$STATE_DIR/fuzz-artifacts/$name/"
        mkdir -p "$corpus" "$artifacts"
        log "== $name for ${MLFLOWPP_FUZZ_SECONDS:-60} s"
        if (cd "$corpus" && "$fuzzer" -max_total_time="${MLFLOWPP_FUZZ_SECONDS:-60}" -timeout=10 \
                -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts" \
                . "$ROOT/fuzz/corpus/${name#mlflowpp_fuzz_}" \
                >"$STATE_DIR/$name.log" 2>&1); then
            grep -E 'stat::number_of_executed_units|^Done' "$STATE_DIR/$name.log" || true
        else
            tail -n 40 "$STATE_DIR/$name.log"
            hardening_rc=1
        fi
    done
    [[ $hardening_rc -eq 0 ]] && log "hardening: all passed" || log "hardening: FAILED (see above)"
fi

# Run ctest, keeping its output (for the summary line) and its exit code.
ctest_log="$STATE_DIR/ctest.log"
set +e
ctest --test-dir "$BUILD_DIR" --output-on-failure --no-tests=error -j2 "$@" 2>&1 \
    | tee "$ctest_log"
rc=${PIPESTATUS[0]}
set -e
[[ $rc -eq 0 && $hardening_rc -ne 0 ]] && rc=1

# Stop the servers now (quietly) so that ctest's summary is the last thing printed.
cleanup 2>/dev/null
trap - EXIT

summary="$(grep -E '^[0-9]+% tests passed' "$ctest_log" | tail -n 1 || true)"
echo
if [[ -n $summary ]]; then
    echo "$summary"
else
    echo "ctest printed no summary (exit code $rc)"
fi
exit "$rc"
