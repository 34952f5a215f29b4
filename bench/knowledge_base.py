"""Knowledge base at scale, on PostgreSQL: the seed-format import of 10,000 articles (segmentation
included) and search over 100,000 articles through the API next to the same ranked query as raw
SQL, in the same run.

    .venv/bin/python bench/knowledge_base.py [--articles 100000] [--import-rows 10000] [--repeat 200]
        [--server postgresql://postgres@127.0.0.1:5432/postgres] [--keep | --reuse URL]

A scratch database is created and dropped (``--keep`` leaves it loaded and prints its URL). The
text is generated Chinese: words drawn from a Zipf-distributed vocabulary of common medical and
everyday words, 500–3,000 characters per article, titles of 3–6 words.

1. Import: a CSV in the seed's format (类型,文章标题,文章内容) of ``--import-rows`` rows goes
   through the plugin's import task exactly as the queue runs it (read, check every row, segment,
   write, index) and is committed; the rate is rows per second of that whole task.
2. Load: the rest up to ``--articles`` is segmented by the plugin's own code (search.fill_tokens'
   words and initials) and COPY'd, published, half of them shared by the group.
3. Search (search.match: the first CANDIDATES matches by title-then-newest, ranked with ts_rank):
   each round draws a query (two or three words of middling frequency, one rarer word, or
   a title's pinyin initials) and times GET /api/v1/knowledge_base/articles?q=… (token auth,
   tenancy, ranking, JSON) and the raw SQL of the same page (the ranked page of 20 and, when the
   page is full, the capped count), alternating which goes first.
Targets (issue 19): search API p95 <= 50 ms; import >= 500 articles/s.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository's code

WORDS = ["股骨", "骨折", "康复", "术后", "护理", "饮食", "注意", "事项", "高血压", "糖尿病", "患者", "医生", "复诊", "服药", "运动", "休息", "伤口", "感染", "发热", "疼痛", "血压", "血糖", "监测", "控制", "治疗", "检查", "住院", "出院", "指导", "预防", "心脏", "肺部", "呼吸", "咳嗽", "头痛", "头晕", "恶心", "呕吐", "腹泻", "便秘", "睡眠", "失眠", "焦虑", "情绪", "家属", "陪护", "营养", "蛋白质", "维生素", "钙", "蔬菜", "水果", "米饭", "面条", "鸡蛋", "牛奶", "喝水", "戒烟", "限酒", "体重", "肥胖", "锻炼", "散步", "太极拳", "关节", "肌肉", "骨骼", "脊柱", "腰椎", "颈椎", "膝盖", "髋关节", "置换", "内固定", "石膏", "拐杖", "轮椅", "助行器", "跌倒", "老年", "儿童", "孕妇", "新生儿", "哺乳", "疫苗", "接种", "过敏", "皮疹", "瘙痒", "药物", "剂量", "副作用", "胰岛素", "阿司匹林", "华法林", "抗生素", "止痛药", "降压药", "中药", "针灸", "理疗", "按摩", "复查", "化验", "影像", "超声", "心电图", "手术", "麻醉", "切口", "缝线", "拆线", "换药", "引流", "导尿", "静脉", "输液", "吸氧", "雾化", "排痰", "体温", "脉搏", "医院", "科室", "门诊", "急诊", "病房", "护士", "医保", "报销", "预约", "挂号", "电话", "随访", "短信", "微信", "家庭", "社区", "生活", "工作", "环境", "安全", "卫生", "清洁", "消毒", "洗手", "口罩", "隔离", "传染", "流感", "肺炎", "支架", "冠心病", "心绞痛", "心衰", "中风", "脑梗", "偏瘫", "言语", "吞咽", "认知", "记忆", "视力", "听力", "牙齿", "口腔", "皮肤", "头发", "指甲", "肾脏", "肝脏", "胃肠", "胆囊", "阑尾", "甲状腺", "乳腺", "前列腺", "子宫", "卵巢", "月经", "更年期", "骨质疏松", "贫血", "出血", "血栓", "水肿", "尿量", "大便", "小便", "早期", "恢复", "功能", "训练", "坚持", "逐渐", "适当", "避免", "减少", "增加", "保持", "及时", "定期", "按时", "遵医嘱", "观察", "记录", "联系", "就诊", "严重", "轻度", "明显", "持续", "突然"]
PUNCT = ",,,。。;、"
TYPES = ("健康宣教", "用药指导", "出院指导", "术后护理", "短信模板", "常见问题")
TYPE_CODES = ("education", "medication", "discharge", "postop", "sms", "faq")


def p95(samples) -> float:
    return statistics.quantiles(samples, n=20, method="inclusive")[-1] if len(samples) > 1 else samples[0]


def vocabulary() -> tuple[list[str], list[float]]:
    """Words and their frequencies: jieba's dictionary (a real Chinese frequency list, ~350k words)
    when the jieba package is installed, else the short list above (too small to be realistic)."""
    try:
        import jieba
    except ImportError:
        print("jieba is not installed: generating text from a short word list (common words match most articles)")
        return list(WORDS), [1 / (rank + 1) for rank in range(len(WORDS))]
    entries = []
    with open(Path(jieba.__file__).with_name("dict.txt"), encoding="utf-8") as source:
        for line in source:
            word, freq, *_ = line.split()
            if len(word) >= 2 and all("\u4e00" <= c <= "\u9fff" for c in word):
                entries.append((int(freq), word))
    entries.sort(reverse=True)
    entries = entries[:60_000]
    return [w for _f, w in entries], [float(f) for f, _w in entries]


class Text:
    """Generated Chinese text: words drawn by their frequency in Chinese, the usual long tail."""

    def __init__(self, rng: random.Random):
        import itertools
        self.rng = rng
        self.vocabulary, weights = vocabulary()
        self.cumulative = list(itertools.accumulate(weights))
        self.titles: list[str] = []

    def words(self, count: int) -> list[str]:
        return self.rng.choices(self.vocabulary, cum_weights=self.cumulative, k=count)

    def title(self, remember: bool = False) -> str:
        """A title; ``remember`` keeps it (up to 5,000) for the initials queries."""
        title = "".join(self.words(self.rng.randint(3, 6)))
        if remember and len(self.titles) < 5000:
            self.titles.append(title)
        return title

    def body(self) -> str:
        target, parts = self.rng.randint(500, 3000), []
        size = 0
        while size < target:
            sentence = "".join(self.words(self.rng.randint(4, 10))) + self.rng.choice(PUNCT)
            parts.append(sentence)
            size += len(sentence)
        return "".join(parts)

    def query(self) -> tuple[str, str]:
        """Two or three words of middling frequency, one rarer word, or a known title's initials."""
        kind = self.rng.choice(("two words", "three words", "rare word", "initials"))
        top = len(self.vocabulary)
        if kind == "two words":
            return kind, " ".join(self.rng.sample(self.vocabulary[200:min(top, 5000)], 2))
        if kind == "three words":
            return kind, " ".join(self.rng.sample(self.vocabulary[50:min(top, 2000)], 3))
        if kind == "rare word":
            return kind, self.rng.choice(self.vocabulary[min(top - 1, 5000):])
        from plugins.knowledge_base.search import initials
        return kind, initials(self.rng.choice(self.titles))[:5]


@contextlib.contextmanager
def scratch_database(server: str, keep: bool):
    """A new PostgreSQL database on ``server`` for the run (its URL), dropped afterwards unless kept."""
    engine = sa.create_engine(server.replace("postgresql://", "postgresql+psycopg2://", 1), isolation_level="AUTOCOMMIT")
    database = f"hcrm_kb_bench_{uuid.uuid4().hex[:8]}"
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{database}"'))
    try:
        yield engine.url.set(database=database).render_as_string(hide_password=False)
    finally:
        if not keep:
            with engine.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--import-rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    reuse = parser.add_mutually_exclusive_group()
    reuse.add_argument("--keep", action="store_true", help="keep the loaded database and print its URL")
    reuse.add_argument("--reuse", metavar="URL", help="time searches on a database an earlier --keep run loaded")
    args = parser.parse_args()
    if args.reuse:
        run(args.reuse, args, fresh=False)
        return
    with scratch_database(args.server, args.keep) as url:
        run(url, args, fresh=True)
        if args.keep:
            print(f"kept: --reuse {url}")


def bench_import(app, text: Text, rows: int) -> None:
    from core.extensions import db
    from core.models import User
    from core.tenancy import hospital_scope, system_scope
    from plugins.knowledge_base import transfer
    from plugins.knowledge_base.models import ImportJob

    folder = Path(tempfile.mkdtemp(prefix="kb-bench-"))
    path = folder / "articles.csv"
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["类型", "文章标题", "文章内容", "标签", "科室"])
        for _ in range(rows):
            writer.writerow([text.rng.choice(TYPES), text.title(), text.body(), "批量导入", "骨科"])
    size = path.stat().st_size
    with app.app_context():
        with system_scope():
            editor = db.session.execute(sa.select(User).where(User.username == "editor")).scalar_one()
            hospital = editor.hospital
        with hospital_scope(editor.hospital_id, user=editor):
            job = ImportJob(filename=path.name, path=str(path), kind="csv", state="queued", user_id=editor.id)
            db.session.add(job)
            db.session.commit()
            backend = db.session.execute(sa.text("SELECT pg_backend_pid()")).scalar()
            server_cpu, client_cpu = cpu_seconds(backend), time.process_time()
            started = time.perf_counter()
            transfer.import_task(hospital, job_id=job.id)
            db.session.commit()
            elapsed = time.perf_counter() - started
            server_end = cpu_seconds(backend)
            server_cpu = server_end - server_cpu if None not in (server_end, server_cpu) else None
            client_cpu = time.process_time() - client_cpu
            job = db.session.get(ImportJob, job.id)
            state, imported = job.state, job.imported
    print(f"import: {imported:,} of {rows:,} rows ({size / 1e6:.0f} MB CSV) {state} in {elapsed:.1f} s "
          f"= {imported / elapsed:,.0f} articles/s (target >= 500), load average {os.getloadavg()[0]:.1f}")
    if server_cpu is not None and imported:
        # CPU time is what a busy shared machine does not distort: the rate the two would reach
        # on cores of their own, one after the other as the task runs them.
        per = (client_cpu + server_cpu) / imported * 1000
        print(f"  CPU per article: {client_cpu / imported * 1000:.2f} ms Python (read, check, segment) + "
              f"{server_cpu / imported * 1000:.2f} ms PostgreSQL (COPY, vector, GIN) = {per:.2f} ms "
              f"-> {1000 / per:,.0f} articles/s on an idle machine")


def cpu_seconds(pid: int):
    """CPU seconds (user + system) of a local process, e.g. the database server's backend; None
    when the server is not on this machine."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_load(app, text: Text, count: int, hospital_id: int) -> None:
    """The rest of the articles, segmented by the plugin's code and COPY'd (published)."""
    from core.bulk_copy import insert_rows
    from core.extensions import db
    from core.models import utcnow
    from plugins.knowledge_base import search
    from plugins.knowledge_base.models import Article

    table = Article.__table__
    columns = ("hospital_id", "type_code", "title", "summary", "body", "sms_text", "tags", "departments", "icd_codes",
               "status", "version", "title_tokens", "body_tokens", "author_name", "created_at", "updated_at",
               "published_at")
    started = time.perf_counter()
    done = 0
    with app.app_context():
        while done < count:
            batch = []
            for _ in range(min(5000, count - done)):
                title, body = text.title(remember=True), text.body()
                article = Article(title=title, body=f"<p>{body}</p>", summary=None, tags="", departments="|骨科|",
                                  icd_codes="")
                search.fill_tokens(article, terms=[])
                now = utcnow()
                batch.append((None if done % 2 else hospital_id, text.rng.choice(TYPE_CODES), title, None,
                              article.body, title[:60], "|批量|", "|骨科|", "|Z00|", "published", 1, article.title_tokens,
                              article.body_tokens, "bench", now, now, now))
                done += 1
            with db.engine.begin() as conn:
                insert_rows(conn, table, columns, batch)
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE knowledge_base_article"))
            total = conn.execute(sa.text("SELECT count(*) FROM knowledge_base_article")).scalar_one()
    print(f"loaded {count:,} more articles in {time.perf_counter() - started:.0f} s; {total:,} in all")


def prepare(url: str, args, fresh: bool):
    from core import migrations_support
    from core.extensions import db
    from core.testing import make_app, make_hospital, make_user

    rng = random.Random(20261207)
    text = Text(rng)
    app = make_app(url)
    with app.app_context():
        if not fresh:
            migrations_support.upgrade()  # a database loaded by an earlier version of the plugin
            text.titles = list(db.session.execute(sa.text(
                "SELECT title FROM knowledge_base_article ORDER BY id LIMIT 5000")).scalars())  # initials queries
            return app, text, db.session.execute(sa.text("SELECT id FROM core_hospital WHERE code = 'A'")).scalar()
        migrations_support.upgrade()
        a = make_hospital("A", plugins=["knowledge_base"])
        make_hospital("B", plugins=["knowledge_base"])
        make_user(a, "editor", ("dept_manager",))
        make_user(a, "bench", ("analyst",))  # a reader: published articles, the typical searcher
        hospital_id = a.id
    bench_import(app, text, args.import_rows)
    bench_load(app, text, max(0, args.articles - args.import_rows), hospital_id)
    return app, text, hospital_id


# The same statements a hand-written endpoint would send: the first CANDIDATES matches by the
# cheap order (title matches first through their own GIN index, then the newest), ranked by
# ts_rank; the count stops at CANDIDATES + 1 (search.match, search.result_cap).
FILTERS = """(a.hospital_id = :h OR a.hospital_id IS NULL) AND a.status = 'published'
  AND NOT EXISTS (SELECT 1 FROM knowledge_base_article c WHERE c.source_id = a.id AND c.hospital_id = :h)
  AND a.search_vector @@ to_tsquery('simple', :q)"""
RAW_PAGE = f"""
SELECT a.id, a.hospital_id, a.type_code, a.title, a.summary, a.sms_text, a.tags, a.departments, a.status, a.updated_at
FROM knowledge_base_article a
WHERE a.id IN (
  SELECT id FROM (
    (SELECT a.id, 1 AS in_title FROM knowledge_base_article a WHERE {FILTERS}
       AND to_tsvector('simple'::regconfig, a.title_tokens) @@ to_tsquery('simple', :q) ORDER BY a.id DESC LIMIT :n)
    UNION ALL
    (SELECT a.id, 0 FROM knowledge_base_article a WHERE {FILTERS} ORDER BY a.id DESC LIMIT :n)
  ) both_ GROUP BY id ORDER BY max(in_title) DESC, id DESC LIMIT :n)
ORDER BY ts_rank(a.search_vector, to_tsquery('simple', :q)) DESC, a.id DESC
LIMIT 20
"""
RAW_COUNT = f"""
SELECT count(*) FROM (SELECT 1 FROM knowledge_base_article a WHERE {FILTERS} LIMIT :n + 1) counted
"""


def run(url: str, args, fresh: bool) -> None:
    from core.tenancy import hospital_scope
    from core.testing import PASSWORD, api_token
    from plugins.knowledge_base.search import CANDIDATES, _pg_query, query_words

    app, text, hospital_id = prepare(url, args, fresh)
    client = app.test_client()
    headers = {**api_token(client, "bench", PASSWORD), "Accept-Language": "en"}
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg2://", 1))
    page_sql, count_sql = sa.text(RAW_PAGE), sa.text(RAW_COUNT)
    api_ms: dict[str, list[float]] = {}
    sql_ms: dict[str, list[float]] = {}
    found: dict[str, list[int]] = {}
    with engine.connect() as conn:
        for round_no in range(args.repeat + 1):
            kind, q = text.query()
            with app.app_context(), hospital_scope(hospital_id):
                tsquery = _pg_query(query_words(q))

            def api(q=q):
                started = time.perf_counter()
                response = client.get("/api/v1/knowledge_base/articles", query_string={"q": q, "per_page": 20},
                                      headers=headers)
                elapsed = (time.perf_counter() - started) * 1000
                if response.status_code != 200:
                    raise SystemExit(f"{q}: HTTP {response.status_code} {response.get_data(as_text=True)[:200]}")
                return response.get_json()["total"], elapsed

            def raw(tsquery=tsquery):
                started = time.perf_counter()
                params = {"h": hospital_id, "q": tsquery, "n": CANDIDATES}
                rows = conn.execute(page_sql, params).all()
                if len(rows) == 20:
                    conn.execute(count_sql, params).scalar()
                elapsed = (time.perf_counter() - started) * 1000
                conn.rollback()
                return elapsed

            if round_no % 2:
                total, api_elapsed = api()
                sql_elapsed = raw()
            else:
                sql_elapsed = raw()
                total, api_elapsed = api()
            if round_no == 0:
                continue  # warms the caches up
            api_ms.setdefault(kind, []).append(api_elapsed)
            sql_ms.setdefault(kind, []).append(sql_elapsed)
            found.setdefault(kind, []).append(total)
    print(f"{'query':12} {'n':>4} {'API p50':>8} {'API p95':>8} {'SQL p50':>8} {'SQL p95':>8}  median matches")
    every_api = []
    for kind in api_ms:
        every_api += api_ms[kind]
        print(f"{kind:12} {len(api_ms[kind]):4} {statistics.median(api_ms[kind]):8.1f} "
              f"{p95(api_ms[kind]):8.1f} {statistics.median(sql_ms[kind]):8.1f} "
              f"{p95(sql_ms[kind]):8.1f}  {statistics.median(found[kind]):,.0f}")
    overall = p95(every_api)
    print(f"search API p95 over all queries: {overall:.1f} ms (target <= 50)")


if __name__ == "__main__":
    main()
