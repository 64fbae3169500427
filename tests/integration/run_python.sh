#!/bin/sh
# Runs a Python test script with the virtual environment's interpreter (MLFLOWPP_PYTHON,
# set by scripts/test.sh), which has the pinned official mlflow client. The scripts' shared
# code (tests/support/mlflowpp_readback.py) is on the path: they also add it themselves.
support="$(cd "$(dirname "$0")/../support" && pwd)"
PYTHONPATH="$support${PYTHONPATH:+:$PYTHONPATH}" exec "${MLFLOWPP_PYTHON:-python3}" "$@"
