"""Chinese full-text search over the articles, one service for the list page, the export, the
API and the follow-up picker.

Words are cut by jieba — its Rust implementation, rjieba, ~15x faster than the Python one with
the same dictionary and results (``cut_for_search``: 股骨颈骨折 gives 股骨, 股骨颈, 骨折) — into
the stored token columns; the hospital's own medical terms (:class:`~.models.Term`) are added to
the segmenter's words first, and each term found in a text is kept whole too. The title's pinyin initials are a
token of the title, so ``ggjgz`` finds 股骨颈骨折… as the patient search finds 张三 by ``zs``.

* PostgreSQL: ``search_vector``, a stored generated column ``setweight(to_tsvector('simple',
  title_tokens), 'A') || setweight(to_tsvector('simple', body_tokens), 'B')`` with a GIN index;
  ``ts_rank`` puts title matches above body matches.
* SQLite: the FTS5 table ``knowledge_base_fts`` (rowid = article id), kept in step by
  :func:`sync` in the writer's transaction, ranked by ``bm25`` with the title weighted 10:1.

Every query word must match (AND); a Latin word also matches as a prefix (initials, ``ct``).
"""
from __future__ import annotations

import html
import os
import re
import threading
import time

import nh3
import sqlalchemy as sa
from markupsafe import Markup, escape
from sqlalchemy.orm import defer

from core.extensions import db
from core.tenancy import current_scope

from .models import Article, Term

MAX_QUERY = 200
WORD = re.compile(r"\w+")
ASCII = re.compile(r"^[0-9a-z]+$")
BLOCKS = re.compile(r"(?i)</(p|div|h[1-6]|li|tr|table|ul|ol|blockquote)>|<br\s*/?>")
FTS = "knowledge_base_fts"
_lock = threading.Lock()
_tokenizer = None
_added: set[str] = set()
_terms: dict = {}
TERMS_TTL = 30
CANDIDATES = 500  # matches a PostgreSQL search ranks (see match)


class QueryRefused(ValueError):
    """A search that cannot be run (only punctuation, far too long): its message is for the user."""


def tokenizer():
    """The process's segmenter (rjieba), its dictionary loaded on first use (a quarter second)."""
    global _tokenizer
    if _tokenizer is None:
        with _lock:
            if _tokenizer is None:
                import rjieba
                _tokenizer = rjieba.Jieba()
    return _tokenizer


def hospital_terms() -> list[str]:
    """The current hospital's medical terms, made words of the segmenter. Kept for TERMS_TTL
    seconds per hospital (a search asks for them each time; :func:`forget_terms` after a change)."""
    hospital_id = current_scope().hospital_id if current_scope() else None
    cached = _terms.get(hospital_id)
    if cached is not None and time.monotonic() - cached[0] < TERMS_TTL:
        return cached[1]
    words = list(db.session.execute(sa.select(Term.word)).scalars())
    _terms[hospital_id] = (time.monotonic(), words)
    new = [w for w in words if w not in _added]
    if new:
        cutter = tokenizer()
        with _lock:
            for word in new:
                cutter.add_word(word, 100000, None)
                _added.add(word)
    return words


def forget_terms() -> None:
    """This process forgets the terms it kept (another process within TERMS_TTL seconds)."""
    _terms.clear()


def plain_text(body_html: str | None) -> str:
    """The text of an article's HTML, one line per block (for search, snippets and diffs)."""
    text = BLOCKS.sub("\n", body_html or "")
    text = html.unescape(nh3.clean(text, tags=set()))
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def words(text: str, terms=()) -> list[str]:
    """The search words of a text, each once, in order: the segmenter's cut for search, lower
    case, without punctuation and spaces; plus the hospital's terms it mentions. (Once: the search
    asks whether an article has a word, and the ranking weighs where — title or text — not how
    often; shorter token lists index faster.)"""
    text = text or ""
    # Deduplicated at C speed first (a 2,000-character text cuts into ~1,000 pieces, ~300 distinct),
    # then only the distinct pieces are checked: a third of the cost of filtering every piece.
    found = [w for w in dict.fromkeys(tokenizer().cut_for_search(text.lower())) if w.isalnum()]
    seen = None
    for term in terms:
        if term in text:
            seen = set(found) if seen is None else seen
            if term.lower() not in seen:
                seen.add(term.lower())
                found.append(term.lower())
    return found


def _pypinyin():
    """pypinyin without its phrase dictionary (~12 MB instead of ~56: initials need no phrases),
    imported on first use, as the patient search does."""
    os.environ.setdefault("PYPINYIN_NO_PHRASES", "true")
    import pypinyin
    return pypinyin


def initials(text: str) -> str:
    """The pinyin initials of the Chinese characters of ``text`` (股骨颈骨折 → ggjgz)."""
    module = _pypinyin()
    letters = module.lazy_pinyin(re.sub(r"[^\u4e00-\u9fff]", "", text or ""), style=module.Style.FIRST_LETTER)
    return "".join(letters).lower()


def fill_tokens(article: Article, terms=None, text: str | None = None) -> None:
    """Recompute the article's token columns from its title, summary, text and tags. ``text``: the
    body's plain text when the caller has it already (an import's cell), else read from the HTML."""
    terms = hospital_terms() if terms is None else terms
    title_words = words(article.title, terms)
    spelled = initials(article.title)
    if spelled:
        title_words.append(spelled)
    extra = " ".join([article.summary or "", " ".join(article.tag_list), " ".join(article.department_list),
                      " ".join(article.icd_list)])
    article.title_tokens = " ".join(title_words)
    article.body_tokens = " ".join(words(extra + "\n" + (plain_text(article.body) if text is None else text), terms))


def sync(articles) -> None:
    """SQLite: write the articles' tokens to the FTS5 table (flush first; same transaction)."""
    connection = db.session.connection()
    if connection.dialect.name != "sqlite":
        return
    rows = [{"id": a.id, "title": a.title_tokens, "body": a.body_tokens} for a in articles]
    if rows:
        connection.execute(sa.text(f"DELETE FROM {FTS} WHERE rowid = :id"), rows)
        connection.execute(sa.text(f"INSERT INTO {FTS} (rowid, title, body) VALUES (:id, :title, :body)"), rows)


def query_words(q: str) -> list[str]:
    """The words of what was typed; raises QueryRefused when there is nothing to search for."""
    q = (q or "").strip()
    if len(q) > MAX_QUERY:
        raise QueryRefused(f"too long:{MAX_QUERY}")
    terms = hospital_terms()
    found: list[str] = []
    for piece in q.lower().split():
        if ASCII.fullmatch(piece):
            found.append(piece)
            continue
        for word in tokenizer().cut(piece):
            word = word.strip()
            if word and WORD.fullmatch(word):
                found.append(word)
        found += [t.lower() for t in terms if t in piece and t.lower() not in found]
    if not found:
        raise QueryRefused("empty")
    return list(dict.fromkeys(found))


def _vector():
    """The stored, GIN-indexed search vector (models.SEARCH_VECTOR as a generated column)."""
    return Article.search_vector


def _pg_query(tokens: list[str]) -> str:
    return " & ".join(f"{t}:*" if ASCII.fullmatch(t) else t for t in tokens)


def _fts_query(tokens: list[str]) -> str:
    return " ".join(f'"{t}"*' if ASCII.fullmatch(t) else f'"{t}"' for t in tokens)


# A list never shows the search columns: the vector alone is a few kilobytes per row, out of line.
LIST_DEFERRED = tuple(defer(c) for c in (Article.title_tokens, Article.body_tokens, Article.search_vector))


def _title_vector():
    """The title's words alone, as the migration's expression GIN index has them."""
    return sa.func.to_tsvector(sa.literal_column("'simple'::regconfig"), Article.title_tokens)


def match(stmt, tokens: list[str], dialect: str, *, ranked: bool = True):
    """``stmt`` (a select of Article) narrowed to the articles matching every token, best first.

    PostgreSQL ranks a bounded set: ``ts_rank`` reads each ranked article's whole vector (a few
    kilobytes out of line), so ranking every match of a common word took seconds at 100,000
    articles. The candidates are the first :data:`CANDIDATES` matches by a cheap order — title
    matches first (their own small GIN index), then the newest — and only they are ranked. A
    search therefore lists its best CANDIDATES matches at most (the pages' and API's count is
    capped to the same number: :func:`result_cap`); the ranking inside keeps the title above the
    text. SQLite's FTS5 ranks every match with bm25 (fast enough at the sizes SQLite serves)."""
    if dialect == "postgresql":
        query = sa.func.to_tsquery(sa.literal_column("'simple'"), sa.literal(_pg_query(tokens)))
        ids = stmt.where(_vector().op("@@")(query)).with_only_columns(Article.id).order_by(None)
        # Read through the GIN index and handed over as found, so that a LIMIT outside stops early:
        # left to itself the planner scans the table for a common word, reading every row's
        # vector (out of line) to test it — ten times slower than the index.
        matches = ids.cte("kb_matches", nesting=True).prefix_with("MATERIALIZED")
        if not ranked:
            return sa.select(matches.c.id)
        in_title = ids.where(_title_vector().op("@@")(query)).order_by(Article.id.desc()).limit(CANDIDATES)
        others = sa.select(matches.c.id).limit(CANDIDATES)
        both = sa.union_all(in_title.add_columns(sa.literal(1).label("in_title")),
                            others.add_columns(sa.literal(0).label("in_title"))).subquery()
        best = (sa.select(both.c.id).group_by(both.c.id)
                .order_by(sa.func.max(both.c.in_title).desc(), both.c.id.desc()).limit(CANDIDATES))
        return (sa.select(Article).options(*LIST_DEFERRED).where(Article.id.in_(best))
                .order_by(sa.func.ts_rank(_vector(), query).desc(), Article.id.desc()))
    fts = sa.table(FTS, sa.column("rowid"))
    whole = sa.literal_column(FTS)
    stmt = stmt.join(fts, fts.c.rowid == Article.id).where(whole.op("MATCH")(_fts_query(tokens)))
    return stmt.order_by(sa.func.bm25(whole, 10.0, 1.0), Article.id.desc()) if ranked else stmt


def result_cap(tokens, default: int) -> int:
    """How many rows a list may count and page through: a search's best CANDIDATES (see
    :func:`match`; on SQLite too, so that both list the same), else ``default``."""
    return min(CANDIDATES, default) if tokens else default


def highlight(text: str, tokens: list[str]) -> Markup:
    """``text`` escaped, each token marked."""
    if not tokens:
        return Markup(escape(text))
    pattern = re.compile("|".join(re.escape(t) for t in sorted(tokens, key=len, reverse=True)), re.IGNORECASE)
    out, last = [], 0
    for found in pattern.finditer(text):
        out.append(escape(text[last:found.start()]))
        out.append(Markup("<mark>%s</mark>") % found.group(0))
        last = found.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


def snippet(article: Article, tokens: list[str], width: int = 90) -> Markup:
    """Around the first place the text mentions a token (else its start), highlighted."""
    text = " ".join((article.summary or "", plain_text(article.body))).strip().replace("\n", " ")
    lowered = text.lower()
    positions = [lowered.find(t) for t in tokens if lowered.find(t) >= 0]
    start = max(0, min(positions) - width // 3) if positions else 0
    part = text[start:start + width]
    prefix = "…" if start > 0 else ""
    suffix = "…" if start + width < len(text) else ""
    return Markup(prefix) + highlight(part, tokens) + Markup(suffix)
