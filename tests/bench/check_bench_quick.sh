#!/usr/bin/env bash
# The benchmark cannot rot (issue 11): scripts/bench.sh --quick runs every scenario small,
# against its own SQLite and PostgreSQL servers, with the programs of this build, and must
# write both result files with every scenario measured and none failed. Figures are not
# checked: speed is measured, never asserted in tests.
#   check_bench_quick.sh SOURCE_DIR BUILD_DIR OUT_DIR
set -uo pipefail
src=${1:?usage: check_bench_quick.sh SOURCE_DIR BUILD_DIR OUT_DIR}
build=${2:?} out=${3:?}
rm -rf "$out"
bash "$src/scripts/bench.sh" --quick --build-dir "$build" --out "$out"
rc=$?
[[ -f $out/latest.json && -f $out/latest.md ]] || { echo "FAIL: no results in $out"; exit 1; }
python3 - "$out/latest.json" <<'PY' || exit 1
import json, sys
doc = json.load(open(sys.argv[1]))
ids = [s["id"] for s in doc["scenarios"]]
bad = [f"{s['id']}: {s['error']}" for s in doc["scenarios"] if s.get("error")]
empty = [s["id"] for s in doc["scenarios"] if not s["rows"]]
if ids != list("abcdefgh"):
    sys.exit(f"FAIL: scenarios {ids}, expected a..h")
if bad or empty:
    sys.exit(f"FAIL: failed {bad}; without rows {empty}")
print(f"OK: {len(ids)} scenarios, {sum(len(s['rows']) for s in doc['scenarios'])} rows, "
      f"{sum(len(s['targets']) for s in doc['scenarios'])} targets")
PY
exit $rc
