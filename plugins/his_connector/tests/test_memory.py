"""A sync process carries only what it uses: pypinyin's dictionary (~12 MB without phrases) is
loaded by the first name that needs pinyin keys, not by building the application (a visits sync
never needs it)."""
import os
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def test_building_the_app_leaves_pypinyin_unloaded_until_a_name_is_indexed(tmp_path):
    script = textwrap.dedent(f"""
        import dataclasses, sys
        from core import create_app
        from core.config import default_config
        app = create_app(dataclasses.replace(default_config(), database_url="sqlite:///{tmp_path}/crm.db",
                                             hospitals=()), overrides={{"SECRET_KEY": "x"}})
        with app.app_context():
            import plugins.his_connector.sync, plugins.patients.bulk, plugins.patients.settings_services
        print("loaded at start:", "pypinyin" in sys.modules)
        def rss_mb():
            return int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) // 1024
        before = rss_mb()
        from plugins.patients.public import pinyin_keys
        print("keys:", sorted(pinyin_keys("曾三")))
        print("pinyin cost MB:", rss_mb() - before)
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": ROOT})
    assert result.returncode == 0, result.stderr
    assert "loaded at start: False" in result.stdout
    assert "keys: ['cengsan', 'cs', 'zengsan', 'zs']" in result.stdout
    # without the phrase dictionary (~44 MB of a name's ~56 MB): every worker that indexes a name carries it
    cost = int(result.stdout.split("pinyin cost MB:")[1])
    assert cost < 25, result.stdout


def test_the_read_ahead_holds_two_batches_at_most(app):
    """While a batch is written, only the next one is read ahead (each batch costs megabytes)."""
    import time

    from plugins.his_connector.sync import Prefetch
    read = []

    def batches():
        for n in range(6):
            read.append(n)
            yield [n] * 10

    with app.app_context():
        prefetch = Prefetch(batches())
        try:
            seen = []
            for batch in prefetch:
                time.sleep(0.2)  # "writing": the reader has all the time it wants to run ahead
                seen.append((batch[0], len(read)))
        finally:
            prefetch.close()
    assert [b for b, _ in seen] == list(range(6))
    assert all(count <= b + 2 for b, count in seen), seen  # never more than the next batch read


def test_the_switch_interval_is_short_while_any_prefetch_runs_and_restored_after(app):
    """Two syncs of one process may overlap: the interval comes back when the last one ends."""
    import sys

    from plugins.his_connector.sync import Prefetch
    def batches(value):
        yield [value]

    before = sys.getswitchinterval()
    with app.app_context():
        first = Prefetch(batches(1))
        second = Prefetch(batches(2))
        assert sys.getswitchinterval() < before
        first.close()
        assert sys.getswitchinterval() < before  # the second still reads
        second.close()
    assert sys.getswitchinterval() == before
