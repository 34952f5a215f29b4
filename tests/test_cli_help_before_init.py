"""`hcrm --help` before `hcrm init` (no secret key, no database yet) lists the commands with one
line saying why the app cannot start: no traceback (issue 21)."""
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_help_before_init_prints_no_traceback(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text('database:\n  url: "sqlite:///' + str(tmp_path / "hcrm.sqlite3") + '"\nhospitals: []\n')
    env = {k: v for k, v in os.environ.items() if k not in ("HCRM_SECRET_KEY", "HCRM_DATABASE_URL")}
    env.update(HCRM_CONFIG=str(config), PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-c", "import sys; from core.cli import main; sys.argv[0] = 'hcrm'; main()",
                           "--help"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert "init" in done.stdout and "hcrm init" in done.stderr
