#!/usr/bin/env bash
# Run the whole test suite on SQLite, then on PostgreSQL; in both runs the HIS connector's tests
# read from a real MariaDB "HIS". Extra arguments go to pytest (-n N, -p … or --pdb replace the
# default parallel run).
#
# Servers: PostgreSQL at HCRM_TEST_POSTGRES (default postgresql://postgres@127.0.0.1:5432/postgres),
# MariaDB at HCRM_TEST_MARIADB (default mysql://root@127.0.0.1:3306/; tests create and drop their
# own databases there). The task queue's tests run real consumers on SQLite, PostgreSQL and the
# Redis at HCRM_TEST_REDIS (default redis://127.0.0.1:6379/15); the PostgreSQL run also puts every
# test's queue on PostgreSQL (HCRM_TEST_QUEUE). Without CI set, a suite whose server is not
# reachable is skipped with a message; with CI set (as .ci/run does) it fails instead.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
PG_URL="${HCRM_TEST_POSTGRES:-postgresql://postgres@127.0.0.1:5432/postgres}"
export HCRM_TEST_MARIADB="${HCRM_TEST_MARIADB:-mysql://root@127.0.0.1:3306/}"
in_ci() { case "${CI:-}" in ""|0|false|False) return 1;; *) return 0;; esac; }

reachable() {  # label, SQLAlchemy URL: prints why not and fails when the server does not answer
  python - "$1" "$2" <<'PY'
import sys, sqlalchemy as sa
label, url = sys.argv[1], sys.argv[2]
url = url.replace("postgresql://", "postgresql+psycopg2://", 1).replace("mysql://", "mysql+pymysql://", 1)
try:
    sa.create_engine(url, connect_args={"connect_timeout": 3}).connect().close()
except Exception as exc:
    print(f"{label} at {sa.engine.make_url(url).render_as_string(hide_password=True)} is not reachable "
          f"({type(exc).__name__})")
    sys.exit(1)
PY
}

if in_ci; then
  # CI must run the MariaDB HIS tests: their fixture fails instead of skipping.
  export HCRM_REQUIRE_MARIADB=1
  reachable "MariaDB (HIS tests)" "$HCRM_TEST_MARIADB" || { echo "CI needs MariaDB for the HIS connector tests" >&2; exit 1; }
elif ! reachable "MariaDB (HIS tests)" "$HCRM_TEST_MARIADB"; then
  echo "the HIS connector's MariaDB tests will be skipped (CI runs them)"
fi

# Tests run in parallel processes (pytest-xdist), one test file per process at a time: as many
# as the machine has cores, or HCRM_TEST_WORKERS (0 runs them in this process, e.g. to debug).
PARALLEL=(-n "${HCRM_TEST_WORKERS:-auto}" --dist loadfile)
for arg in "$@"; do
  case "$arg" in -n|-n*|--numprocesses*|--pdb|no:xdist) PARALLEL=();; esac
done

run_pytest() {  # label, then pytest args; exit status 5 (no tests collected) is a failure too
  local label="$1"; shift
  echo "== tests on $label =="
  set +e
  python -m pytest "${PARALLEL[@]}" "$@"
  local status=$?
  set -e
  if [ "$status" -ne 0 ]; then
    echo "tests on $label failed (pytest exit $status)" >&2
    exit "$status"
  fi
}

run_pytest "SQLite" "$@"

if in_ci || reachable "PostgreSQL" "$PG_URL" || { echo "skipping the PostgreSQL run (CI runs it)"; false; }; then
  HCRM_TEST_DATABASE="$PG_URL" HCRM_TEST_QUEUE=postgresql run_pytest "PostgreSQL" "$@"
fi
