#!/usr/bin/env bash
# The package lists of scripts/lib.sh stay apart (issue 15): the demo (the main job)
# installs what building needs and, for --ui, a Python venv; never the test toolchain
# (LibTorch with OpenCV, GDAL and Qt; nginx; clang; Catch2). Usage: check_package_lists.sh ROOT
set -uo pipefail
root=${1:?usage: check_package_lists.sh ROOT}
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh" || exit 1
set +e
fail=0
for pkg in libtorch-dev nginx clang libclang-rt-14-dev catch2 clang-format python3-dev; do
    for list in MLFLOWPP_BUILD_PACKAGES MLFLOWPP_UI_PACKAGES; do
        declare -n arr=$list
        for p in "${arr[@]}"; do
            if [[ $p == "$pkg" ]]; then
                echo "FAIL: $list holds $pkg (a test package)"
                fail=1
            fi
        done
    done
done
# The demo installs those two lists only.
calls=$(grep -n 'install_system_deps' "$root/scripts/demo.sh")
while IFS= read -r line; do
    if [[ $line != *'"${MLFLOWPP_BUILD_PACKAGES[@]}"'* && $line != *'"${MLFLOWPP_UI_PACKAGES[@]}"'* ]]; then
        echo "FAIL: scripts/demo.sh installs something else: $line"
        fail=1
    fi
done <<<"$calls"
# Everything the demo installs, the test command installs too.
for list in MLFLOWPP_BUILD_PACKAGES MLFLOWPP_UI_PACKAGES; do
    declare -n arr=$list
    for p in "${arr[@]}"; do
        [[ " ${MLFLOWPP_TEST_PACKAGES[*]} " == *" $p "* ]] || { echo "FAIL: $p of $list is not in MLFLOWPP_TEST_PACKAGES"; fail=1; }
    done
done
[[ $fail == 0 ]] && echo "OK: build ${#MLFLOWPP_BUILD_PACKAGES[@]}, ui ${#MLFLOWPP_UI_PACKAGES[@]}, test ${#MLFLOWPP_TEST_PACKAGES[@]} packages; the demo installs build and ui only"
exit $fail
