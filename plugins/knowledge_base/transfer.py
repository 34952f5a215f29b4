"""Import of articles from a spreadsheet in the seed's format 【类型|文章标题|文章内容】 (optional
columns: 标签, 科室, ICD-10, 摘要, 短信), and export of a filtered list.

The upload is stored and checked as the patient import's is (core.spreadsheets.store_file: size,
zip bombs, encodings), then a task on the core queue reads every row:
a row with an unknown type, no title or a refused text is reported with its number and reasons,
and then nothing is written; otherwise every article is written in that one transaction.
"""
from __future__ import annotations

import secrets
import shutil
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from markupsafe import escape
from marshmallow import ValidationError

from core import audit, queue
from core.bulk_copy import insert_rows
from core.declarations import ReportResult
from core.extensions import db
from core.i18n import gettext as _
from core.models import User, utcnow
from core.spreadsheets import SpreadsheetRefused, cell_text, iter_rows, sheet_limits, store_file
from core.tenancy import current_scope

from . import search, services
from .models import Article, ImportJob

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
TASK = "knowledge_base.import"
HEADERS = {  # header as written in the sheet (normalised) → field
    "类型": "type", "文章类型": "type", "type": "type",
    "文章标题": "title", "标题": "title", "title": "title",
    "文章内容": "body", "内容": "body", "正文": "body", "body": "body",
    "标签": "tags", "tags": "tags",
    "科室": "departments", "适用科室": "departments", "departments": "departments",
    "icd-10": "icd_codes", "icd10": "icd_codes", "icd": "icd_codes", "疾病编码": "icd_codes",
    "摘要": "summary", "summary": "summary",
    "短信": "sms_text", "短信内容": "sms_text", "sms": "sms_text",
}
REQUIRED = ("type", "title", "body")


class ImportRefused(ValueError):
    """An upload that cannot be imported at all (not a spreadsheet, too large, no such columns)."""


def folder() -> Path:
    configured = current_app.config.get("HCRM_IMPORT_FOLDER")
    root = Path(configured) if configured else Path(current_app.instance_path) / "imports"
    return root / "knowledge_base"


def start_import(stream, filename: str, *, user) -> ImportJob:
    """Keep the upload and queue its import; raises ImportRefused with a message for the user."""
    target = folder() / secrets.token_hex(16)
    target.mkdir(parents=True, exist_ok=False)
    try:
        kind, path = store_file(stream, filename, target, MAX_UPLOAD_BYTES)
        _columns(next(iter(iter_rows(path, kind, sheet_limits())), ()))
    except (SpreadsheetRefused, ImportRefused) as exc:
        shutil.rmtree(target, ignore_errors=True)
        raise ImportRefused(str(exc)) from None
    job = ImportJob(filename=Path(filename or "upload").name[:200], path=str(path), kind=kind, state="queued",
                    user_id=user.id)
    db.session.add(job)
    db.session.flush()
    try:
        queue.enqueue(TASK, job.hospital_id, user=user, summary=job.filename, job_id=job.id)
    except queue.QueueError as exc:
        db.session.rollback()
        shutil.rmtree(target, ignore_errors=True)
        raise ImportRefused(exc.message.translated()) from None
    return job


def _columns(header) -> dict[str, int]:
    """field → column index, from the header row; refuses a sheet without the required columns."""
    found: dict[str, int] = {}
    for index, cell in enumerate(header or ()):
        key = (cell_text(cell) or "").strip().lower().replace(" ", "")
        field = HEADERS.get(key)
        if field and field not in found:
            found[field] = index
    missing = [f for f in REQUIRED if f not in found]
    if missing:
        raise ImportRefused(_("The first row must name the columns 类型, 文章标题 and 文章内容 (missing: %(missing)s).",
                              missing=", ".join({"type": "类型", "title": "文章标题", "body": "文章内容"}[m]
                                                for m in missing)))
    return found


def _type_codes() -> dict[str, str]:
    """A type as a sheet may name it (its name or its code) → code, active types only."""
    codes = {}
    for row in services.active_types():
        codes[row.code.lower()] = row.code
        codes[row.name] = row.code
    return codes


def read_rows(path: Path, kind: str) -> tuple[list[dict], list[list]]:
    """(article data of each row, [[row number, [reasons]], …]) of the sheet."""
    rows = iter(iter_rows(path, kind, sheet_limits()))
    columns = _columns(next(rows, ()))
    types = _type_codes()
    codes = set(types.values())
    articles, errors = [], []
    for number, values in enumerate(rows, start=2):
        cells = {f: cell_text(values[i]) if i < len(values) else None for f, i in columns.items()}
        if not any(cells.values()):
            continue
        reasons = []
        type_code = types.get((cells.get("type") or "").strip()) or types.get((cells.get("type") or "").strip().lower())
        if type_code is None:
            reasons.append(_("unknown article type “%(type)s”", type=(cells.get("type") or "")[:40]))
        body, text = _as_html(cells.get("body") or "")
        data = {"type_code": type_code, "title": (cells.get("title") or "").strip(),
                "body": body, "text": text, "summary": cells.get("summary"),
                "sms_text": cells.get("sms_text"), "tags": cells.get("tags") or "",
                "departments": cells.get("departments") or "", "icd_codes": cells.get("icd_codes") or ""}
        try:
            services._check(dict(data, type_code=type_code or next(iter(codes), "")), partial=False, codes=codes)
        except ValidationError as exc:
            reasons += [str(m) for messages in exc.messages.values() for m in messages]
        if reasons:
            errors.append([number, reasons])
        else:
            articles.append(data)
    return articles, errors


def _as_html(text: str) -> tuple[str, str | None]:
    """(HTML, plain text) of a cell: HTML is kept (to be sanitised; no plain text yet), plain
    text becomes one escaped paragraph per line — safe as it is, so neither the sanitiser nor the
    search's HTML-to-text pass need to read it again (together half the cost of segmenting it)."""
    if "<" in text and ">" in text:
        return text, None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return "".join(f"<p>{escape(line)}</p>" for line in lines), "\n".join(lines)


def import_task(hospital, job_id: int) -> None:
    """The queued import: all rows or none. Safe to repeat (a finished job is left as it is)."""
    job = db.session.execute(sa.select(ImportJob).where(ImportJob.id == job_id)).scalar_one_or_none()
    if job is None or job.state in ("done", "refused"):
        return
    scope = current_scope()
    user = db.session.execute(sa.select(User).where(User.id == scope.user_id)).scalar_one_or_none() \
        if scope and scope.user_id else None
    try:
        articles, errors = read_rows(Path(job.path), job.kind)
    except (SpreadsheetRefused, ImportRefused, OSError) as exc:
        job.state, job.message = "refused", str(exc)[:500]
        return
    job.rows = len(articles) + len(errors)
    if errors or not articles:
        job.state, job.errors = "refused", errors
        job.message = _("Nothing was imported: correct the rows below and upload the file again.") if errors \
            else _("The file has no rows below its header row.")
        return
    written = _write(articles, user)
    audit.log_event("import", Article.__name__, None,
                    note=f"{written} articles imported as drafts from {job.filename}"[:500])
    job.state, job.imported, job.errors, job.message = "done", written, [], None
    shutil.rmtree(Path(job.path).parent, ignore_errors=True)


INSERTED = ("hospital_id", "type_code", "title", "summary", "body", "sms_text", "tags", "departments", "icd_codes",
            "status", "version", "author_id", "author_name", "title_tokens", "body_tokens", "created_at",
            "updated_at")
NOT_NULL = ("title", "body", "tags", "departments", "icd_codes", "title_tokens", "body_tokens")  # '' is ''
BATCH = 1000


def _write(articles: list[dict], user) -> int:
    """Insert the checked rows as drafts, a thousand per COPY on PostgreSQL (an executemany
    elsewhere; no unit of work: the import is one audit event, not 10,000 row changes). Their
    references are the hospital's own (its id, no source), so the flush's reference check has
    nothing to look at. PostgreSQL computes each row's vector (the generated column) and files it
    in the GIN index's pending list as the rows arrive."""
    terms = search.hospital_terms()
    hospital_id = current_scope().hospital_id
    table = Article.__table__
    connection = db.session.connection()
    before = db.session.execute(sa.select(sa.func.max(table.c.id))).scalar() or 0
    now = utcnow()
    author_id, author_name = getattr(user, "id", None), getattr(user, "display_name", None)
    batch = []
    for done, data in enumerate(articles, 1):
        text = data.get("text")
        article = Article(type_code=data["type_code"], title=data["title"], summary=data.get("summary"),
                          body=services.sanitise(data["body"]) if text is None else data["body"],
                          sms_text=data.get("sms_text"),
                          **{k: Article.join(services._split(data.get(k))) for k in ("tags", "departments", "icd_codes")})
        search.fill_tokens(article, terms, text=text)
        batch.append((hospital_id, article.type_code, article.title, article.summary, article.body, article.sms_text,
                      article.tags, article.departments, article.icd_codes, "draft", 1, author_id, author_name,
                      article.title_tokens, article.body_tokens, now, now))
        if len(batch) == BATCH or done == len(articles):
            insert_rows(connection, table, INSERTED, batch, not_null=NOT_NULL)
            batch = []
            queue.progress(done, len(articles))
    if connection.dialect.name == "sqlite":
        search.sync(db.session.execute(sa.select(table.c.id, table.c.title_tokens, table.c.body_tokens)
                                       .where(table.c.id > before, table.c.hospital_id == hospital_id)).all())
    return len(articles)


def export_result(filters: dict, *, editor: bool, limit: int) -> ReportResult:
    """The filtered list as a table in the seed's columns (类型, 文章标题, 文章内容 …), re-importable."""
    names = services.type_names()
    rows = db.session.execute(services.list_select(filters, editor=editor).limit(limit)).scalars().all()
    columns = [("type", "类型"), ("title", "文章标题"), ("body", "文章内容"), ("tags", "标签"), ("departments", "科室"),
               ("icd_codes", "ICD-10"), ("summary", "摘要"), ("sms_text", "短信"), ("status", _("Status")),
               ("group", _("Shared by the group"))]
    return ReportResult(columns=columns, rows=[{
        "type": names.get(a.type_code, a.type_code), "title": a.title, "body": search.plain_text(a.body),
        "tags": ",".join(a.tag_list), "departments": ",".join(a.department_list), "icd_codes": ",".join(a.icd_list),
        "summary": a.summary, "sms_text": a.sms_text, "status": services.status_label(a.status),
        "group": _("yes") if a.hospital_id is None else ""} for a in rows])

