#!/usr/bin/env bash
# One command for a newcomer: environment, SQLite database under instance/, demo hospital group,
# then the web UI on http://127.0.0.1:5000 (the admin login is printed) with a background worker
# beside it (imports, HIS syncs, bulk SMS and the periodic jobs run there). Ctrl+C stops both.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
unset HCRM_DATABASE_URL  # the demo always runs on the embedded SQLite database of config.yaml
unset HCRM_JOBS_BACKEND HCRM_JOBS_URL  # and on the embedded queue file (instance/queue.sqlite3)
hcrm init --demo
echo
hcrm worker &
worker=$!
# The worker goes when the server goes, however it ends (Ctrl+C, an error, a closed terminal).
trap 'kill "$worker" 2>/dev/null; wait "$worker" 2>/dev/null || true' EXIT
echo "Sign in at http://127.0.0.1:${PORT:-5000}/ as 'admin' with the password printed above."
hcrm run --host 127.0.0.1 --port "${PORT:-5000}"
