#!/usr/bin/env bash
# Run the whole test suite on SQLite, then on PostgreSQL (and, once the HIS connector has tests,
# its suite against MariaDB). Extra arguments go to pytest.
#
# Servers: PostgreSQL at HCRM_TEST_POSTGRES (default postgresql://postgres@127.0.0.1:5432/postgres).
# Without CI set, a suite whose server is not reachable is skipped with a message; with CI set
# (as .ci/run does) it fails instead.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
PG_URL="${HCRM_TEST_POSTGRES:-postgresql://postgres@127.0.0.1:5432/postgres}"
in_ci() { case "${CI:-}" in ""|0|false|False) return 1;; *) return 0;; esac; }

run_pytest() {  # label, then pytest args; exit status 5 (no tests collected) is a failure too
  local label="$1"; shift
  echo "== tests on $label =="
  set +e
  python -m pytest "$@"
  local status=$?
  set -e
  if [ "$status" -ne 0 ]; then
    echo "tests on $label failed (pytest exit $status)" >&2
    exit "$status"
  fi
}

run_pytest "SQLite" "$@"

if in_ci || python - "$PG_URL" <<'PY'
import sys, sqlalchemy as sa
url = sys.argv[1].replace("postgresql://", "postgresql+psycopg2://", 1)
try:
    sa.create_engine(url, connect_args={"connect_timeout": 3}).connect().close()
except Exception as exc:
    print(f"PostgreSQL at {url} is not reachable ({type(exc).__name__}); skipping the PostgreSQL run (CI runs it)")
    sys.exit(1)
PY
then
  HCRM_TEST_DATABASE="$PG_URL" run_pytest "PostgreSQL" "$@"
fi
