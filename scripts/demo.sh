#!/usr/bin/env bash
# One command for a newcomer: environment, SQLite database under instance/, demo hospital group,
# then the web UI on http://127.0.0.1:5000 (the admin login is printed).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
unset HCRM_DATABASE_URL  # the demo always runs on the embedded SQLite database of config.yaml
hcrm init --demo
echo
echo "Sign in at http://127.0.0.1:${PORT:-5000}/ as 'admin' with the password printed above."
exec hcrm run --host 127.0.0.1 --port "${PORT:-5000}"
