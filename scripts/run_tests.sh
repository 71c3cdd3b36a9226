#!/usr/bin/env bash
# The test suite: sets up the environment (with the test tools), checks style with ruff, runs pytest.
#   bash scripts/run_tests.sh            # the default suite (a few minutes on 2 cores)
#   bash scripts/run_tests.sh --slow     # also the long tests
#   bash scripts/run_tests.sh -k phantom # extra arguments go to pytest
set -euo pipefail
HDL_DEV=1 source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"
# Single-threaded maths: the tests run subprocesses (torchrun ranks, CLIs) side by side on few cores,
# and oversubscribed thread pools are far slower than one thread each.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"

args=()
for a in "$@"; do
  if [[ "$a" == "--slow" ]]; then args+=(-m "slow or not slow"); else args+=("$a"); fi
done

"$PY" -m ruff check .
# The layers of the tree (pyproject.toml [tool.importlinter], docs/ARCHITECTURE.md).
"$(dirname "$PY")/lint-imports" --no-cache
"$PY" -m pytest -p no:cacheprovider "${args[@]}"
