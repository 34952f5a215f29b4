"""A sync process carries only what it uses: names are indexed from the patients plugin's pinyin
table (~1 MB, loaded by the first name) instead of pypinyin's dictionaries (~11 MB without
phrases); huey's storage (psycopg 3 and redis, ~18 MB) is not imported by building the
application."""
import os
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def test_building_the_app_loads_no_queue_storage_and_indexing_names_loads_no_pypinyin(tmp_path):
    script = textwrap.dedent(f"""
        import dataclasses, sys
        from core import create_app
        from core.config import default_config
        app = create_app(dataclasses.replace(default_config(), database_url="sqlite:///{tmp_path}/crm.db",
                                             hospitals=()), overrides={{"SECRET_KEY": "x"}})
        with app.app_context():
            import plugins.his_connector.sync, plugins.patients.bulk, plugins.patients.settings_services
        print("loaded at start:", "pypinyin" in sys.modules, "huey" in sys.modules, "redis" in sys.modules,
              "psycopg" in sys.modules)
        def rss_mb():
            return int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) // 1024
        before = rss_mb()
        from plugins.patients.public import pinyin_keys
        print("keys:", sorted(pinyin_keys("曾三")))
        print("pinyin cost MB:", rss_mb() - before)
        print("pypinyin after indexing:", "pypinyin" in sys.modules)
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": ROOT})
    assert result.returncode == 0, result.stderr
    assert "loaded at start: False False False False" in result.stdout
    assert "keys: ['cengsan', 'cs', 'zengsan', 'zs']" in result.stdout
    assert "pypinyin after indexing: False" in result.stdout
    cost = int(result.stdout.split("pinyin cost MB:")[1].split()[0])
    assert cost < 4, result.stdout  # pypinyin without phrases took 11


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
