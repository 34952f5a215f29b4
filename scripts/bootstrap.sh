#!/usr/bin/env bash
# Create .venv and install HCRM with its test tools, and the example plugin examples/hotline as a
# third-party distribution (as an integrator installs theirs); re-install only when one of their
# pyproject.toml files changed.
# Sourced by scripts/demo.sh and scripts/test.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PYTHON="${PYTHON:-}"
if [ -z "$PYTHON" ]; then
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      PYTHON="$candidate"; break
    fi
  done
fi
if [ -z "$PYTHON" ]; then
  echo "HCRM needs Python 3.11 or newer (python3 --version); install it and try again." >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo "creating .venv with $("$PYTHON" --version)"
  "$PYTHON" -m venv .venv || { echo "could not create a virtual environment: install the venv module (Debian: apt install python3-venv)" >&2; exit 1; }
fi
stamp=".venv/.hcrm-installed"
want="$(cat pyproject.toml examples/hotline/pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "installing HCRM and its dependencies into .venv"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[test]"
  .venv/bin/python -m pip install --quiet -e examples/hotline
  echo "$want" > "$stamp"
fi
export PATH="$ROOT/.venv/bin:$PATH"
