#!/bin/sh
# Runs a Python test script with the virtual environment's interpreter (MLFLOWPP_PYTHON,
# set by scripts/test.sh), which has the pinned official mlflow client.
exec "${MLFLOWPP_PYTHON:-python3}" "$@"
