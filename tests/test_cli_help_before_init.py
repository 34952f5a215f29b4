"""`hcrm --help` before `hcrm init` (no secret key, no database yet) lists the commands with one
line saying why the app cannot start: no traceback (issue 21). Run in-process with click's
runner (a separate interpreter only added start-up time): the environment and the instance
folder are the fresh installation's."""
from click.testing import CliRunner

from core.cli import main


def test_help_before_init_prints_no_traceback(tmp_path, monkeypatch):
    config = tmp_path / "config.yaml"
    config.write_text('database:\n  url: "sqlite:///' + str(tmp_path / "hcrm.sqlite3") + '"\nhospitals: []\n')
    for name in ("HCRM_SECRET_KEY", "HCRM_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HCRM_CONFIG", str(config))
    # Not the developer's instance/ folder: its secret key would make this an installed site.
    monkeypatch.setattr("core.cli.INSTANCE", tmp_path / "instance")
    monkeypatch.setattr("core.app.INSTANCE", tmp_path / "instance")
    monkeypatch.chdir(tmp_path)
    done = CliRunner().invoke(main, ["--help"], prog_name="hcrm")
    assert done.exit_code == 0, done.output
    assert done.exception is None
    assert "Traceback" not in done.output
    assert "init" in done.stdout and "hcrm init" in done.stderr
