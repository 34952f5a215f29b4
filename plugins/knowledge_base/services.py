"""Articles: writing (sanitised, tokenised, versioned), the review flow, group articles and local
copies, types and terms, reading statistics. Shared by the pages, the API, the import task and
the follow-up content source; views stay thin.

Service errors are ``marshmallow.ValidationError`` (field → messages): the API answers them
with 422, the pages show them on the form's fields. Nothing is written when one is raised.
"""
from __future__ import annotations

import difflib
import functools
import secrets

import nh3
import sqlalchemy as sa
from marshmallow import ValidationError
from sqlalchemy.orm import aliased

from core import choices
from core.activation import live_plugins
from core.extensions import db
from core.i18n import gettext as _
from core.models import Hospital, utcnow
from core.permissions import denied
from core.tenancy import WriteRefused, current_scope, hospital_scope, system_scope

from . import search
from .models import DEFAULT_TYPES, Article, ArticleStat, ArticleType, ArticleVersion, PublicLink, Term

MAX_BODY = 1_000_000        # characters of HTML: a long handout with tables is ~50,000
SMS_SEGMENT = 70            # characters of one SMS segment
CONTENT = ("title", "summary", "body", "sms_text")
TRANSITIONS = {  # action → (statuses it starts from, status it leads to, permission)
    "submit": (("draft",), "review", "knowledge_base.edit"),
    "publish": (("draft", "review"), "published", "knowledge_base.publish"),
    "reject": (("review",), "draft", "knowledge_base.publish"),
    "archive": (("published",), "archived", "knowledge_base.publish"),
    "reopen": (("archived",), "draft", "knowledge_base.edit"),
}


def sms_segments(text: str | None) -> int:
    return -(-len(text or "") // SMS_SEGMENT)


def sanitise(body: str | None) -> str:
    """The article's HTML with only what a handout needs: headings, lists, tables, images,
    links (http/https/mailto and relative); scripts, event handlers, ``javascript:`` and styles go."""
    return nh3.clean(body or "", url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer")


def type_names() -> dict[str, str]:
    return {t.code: t.name for t in choices.ordered(ArticleType)}


def active_types() -> list[ArticleType]:
    return choices.ordered(ArticleType, active_only=True)


def seed_types() -> None:
    existing = set(db.session.execute(sa.select(ArticleType.code)).scalars())
    position = choices.next_position(ArticleType)
    for code, name in DEFAULT_TYPES:
        if code not in existing:
            db.session.add(ArticleType(code=code, name=name, position=position))
            position += 1


def _user_name(user) -> str | None:
    return getattr(user, "display_name", None) or getattr(user, "username", None)


def _split(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = value.replace(",", ",").replace(";", ",").replace("、", ",").split(",")
    return [str(v).strip()[:40] for v in value if str(v).strip()]


def _check(data: dict, partial: bool, codes=None) -> None:
    """Refuse what cannot be saved (ValidationError naming the fields). ``codes``: the active
    type codes, when the caller checks many rows."""
    errors: dict[str, list[str]] = {}
    if not partial or "title" in data:
        if not (data.get("title") or "").strip():
            errors["title"] = [_("The title is required.")]
        elif len(data["title"].strip()) > 200:
            errors["title"] = [_("The title is longer than 200 characters.")]
    if "type_code" in data or not partial:
        codes = {t.code for t in active_types()} if codes is None else codes
        if data.get("type_code") not in codes:
            errors["type_code"] = [_("Unknown article type “%(code)s”.", code=str(data.get("type_code") or "")[:40])]
    if len(data.get("body") or "") > MAX_BODY:
        size, limit = format(len(data["body"]), ","), format(MAX_BODY, ",")
        errors["body"] = [_("The text is too long (%(size)s characters; at most %(max)s).", size=size, max=limit)]
    if len(data.get("sms_text") or "") > 500:
        errors["sms_text"] = [_("The SMS version is longer than 500 characters.")]
    if len(data.get("summary") or "") > 500:
        errors["summary"] = [_("The summary is longer than 500 characters.")]
    for field in ("tags", "departments", "icd_codes"):
        if field in data and len(Article.join(_split(data[field]))) > 500:
            errors[field] = [_("Too many entries.")]
    if errors:
        raise ValidationError(errors)


def _may_write(article: Article) -> None:
    scope = current_scope()
    if article.hospital_id is None and not (scope and scope.writes_group_rows):
        raise WriteRefused(_("Articles shared by the whole group may only be changed by a group-level editor."))


def _snapshot(article: Article, user) -> None:
    """Keep the published article as it is before this save."""
    db.session.add(ArticleVersion(article=article, hospital_id=article.hospital_id, number=article.version,
                                  title=article.title, summary=article.summary, body=article.body,
                                  sms_text=article.sms_text, saved_by_name=_user_name(user)))
    article.version += 1


def save_article(article: Article | None, data: dict, *, user=None, group: bool = False) -> Article:
    """Create (``article`` None) or change an article from clean data (the fields of
    :class:`~.schemas.ArticleSchema`). A change of a published article keeps the previous
    version first. ``group`` creates an article of the whole group (a group-level editor only)."""
    _check(data, partial=article is not None)
    if article is None:
        scope = current_scope()
        article = Article(status="draft", author_id=getattr(user, "id", None), author_name=_user_name(user),
                          version=1, hospital_id=None if group else scope.hospital_id)
        _may_write(article)
        db.session.add(article)
    else:
        _may_write(article)
    content = {k: data[k] for k in CONTENT if k in data}
    if "body" in content:
        content["body"] = sanitise(content["body"])
    if "title" in content:
        content["title"] = content["title"].strip()
    changed = any((getattr(article, k) or "") != (v or "") for k, v in content.items())
    if article.id is not None and article.status == "published" and changed:
        _snapshot(article, user)
    for key, value in content.items():
        setattr(article, key, value)
    if "type_code" in data:
        article.type_code = data["type_code"]
    for field in ("tags", "departments", "icd_codes"):
        if field in data:
            values = _split(data[field])
            setattr(article, field, Article.join(v.upper() for v in values) if field == "icd_codes"
                    else Article.join(values))
    search.fill_tokens(article)
    db.session.flush()
    search.sync([article])
    return article


def transition(article: Article, action: str, *, user=None, may=None) -> Article:
    """Move the article along draft → review → published → archived. ``may(permission)`` says
    whether the caller holds a permission (the pages' and the API's ``can``)."""
    if action not in TRANSITIONS:
        raise ValidationError({"action": [_("Unknown action.")]})
    starts, target, permission = TRANSITIONS[action]
    if may is not None and not may(permission):
        raise WriteRefused(denied(permission))
    if article.status not in starts:
        raise ValidationError({"status": [_("A %(status)s article cannot be moved this way.",
                                            status=status_label(article.status))]})
    _may_write(article)
    article.status = target
    if target == "published":
        article.reviewer_id, article.reviewer_name = getattr(user, "id", None), _user_name(user)
        article.published_at = utcnow()
    return article


def status_label(status: str) -> str:
    return {"draft": _("draft"), "review": _("in review"), "published": _("published"),
            "archived": _("archived")}.get(status, status)


def restore(article: Article, version: ArticleVersion, *, user=None) -> Article:
    """Make an earlier version the article's text again (the current one becomes a version)."""
    if version.article_id != article.id:
        raise ValidationError({"version": [_("This version belongs to another article.")]})
    return save_article(article, {k: getattr(version, k) for k in CONTENT}, user=user)


def diff(old: dict, new: dict) -> list[tuple[str, str]]:
    """A readable line diff of two texts (title, summary, text, SMS): (kind, line) with kind
    ' ', '+' or '-'; unchanged runs longer than a few lines are cut to ``…``."""
    def lines(values):
        return ([values.get("title") or ""] + [values.get("summary") or ""]
                + search.plain_text(values.get("body")).splitlines() + ["SMS: " + (values.get("sms_text") or "")])
    out: list[tuple[str, str]] = []
    for line in difflib.ndiff(lines(old), lines(new)):
        kind, text = line[:1], line[2:]
        if kind == "?":
            continue
        out.append((kind, text))
    return out


def content_of(article_or_version) -> dict:
    return {k: getattr(article_or_version, k) for k in CONTENT}


def local_copy(article: Article, *, user=None) -> Article:
    """A draft of this hospital copied from a group article, to adapt and publish as its own."""
    if article.hospital_id is not None:
        raise ValidationError({"article": [_("Only an article of the whole group can be copied.")]})
    existing = db.session.execute(sa.select(Article).where(Article.source_id == article.id,
                                                           Article.hospital_id.is_not(None))).scalars().first()
    if existing is not None:
        return existing
    data = {k: getattr(article, k) for k in CONTENT} | {
        "type_code": article.type_code, "tags": article.tag_list, "departments": article.department_list,
        "icd_codes": article.icd_list}
    if data["type_code"] not in {t.code for t in active_types()}:
        raise ValidationError({"type_code": [_("This hospital has no article type “%(code)s”.", code=article.type_code)]})
    copy = save_article(None, data, user=user)
    copy.source_id = article.id
    return copy


# -- lists ---------------------------------------------------------------------------------------
@functools.cache
def _no_local_copy():
    """NOT EXISTS (a copy of this article in the hospital): built once, an alias costs ~5 ms."""
    copy = aliased(Article, name="kb_copy")
    # "source_id IS NOT NULL" says nothing new but lets the planner read the few copies from the
    # source_id index rather than hash every article of the hospital (40 ms at 100,000 articles).
    return ~sa.exists(sa.select(copy.id).where(copy.source_id == Article.id, copy.source_id.is_not(None),
                                               copy.hospital_id.is_not(None)))


def list_select(filters: dict, *, editor: bool, ranked: bool = True):
    """The articles a filter set names, best match first (or newest first without ``q``).
    Readers see published articles; editors every status (or the one asked for). ``ranked``
    False leaves the order out (what a count needs). A group
    article this hospital made its own copy of is left out: the copy stands for it."""
    stmt = sa.select(Article).options(*search.LIST_DEFERRED)
    status = filters.get("status")
    if not editor:
        stmt = stmt.where(Article.status == "published")
    elif status:
        stmt = stmt.where(Article.status == status)
    if filters.get("type"):
        stmt = stmt.where(Article.type_code == filters["type"])
    for key, column in (("tag", Article.tags), ("department", Article.departments)):
        if filters.get(key):
            stmt = stmt.where(column.contains(f"|{filters[key]}|", autoescape=True))
    if filters.get("icd"):
        stmt = stmt.where(Article.icd_codes.contains(f"|{filters['icd'].upper()}", autoescape=True))
    if filters.get("scope") == "group":
        stmt = stmt.where(Article.hospital_id.is_(None))
    elif filters.get("scope") == "hospital":
        stmt = stmt.where(Article.hospital_id.is_not(None))
    stmt = stmt.where(_no_local_copy())
    tokens = filters.get("tokens")
    if tokens:
        return search.match(stmt, tokens, db.session.get_bind().dialect.name, ranked=ranked)
    return stmt.order_by(Article.updated_at.desc(), Article.id.desc()) if ranked else stmt


def matching_patient(departments: list[str], codes: list[str], limit: int = 20) -> list[Article]:
    """Published articles for a patient's departments (names) and diagnoses (ICD-10 codes,
    matched on the article's code prefixes: an article for S72 fits S72.001)."""
    conditions = [Article.departments.contains(f"|{d}|", autoescape=True) for d in departments if d]
    prefixes = {c.upper()[:n] for c in codes if c for n in (3, 5, len(c))}
    conditions += [Article.icd_codes.contains(f"|{p}|", autoescape=True) for p in prefixes if p]
    if not conditions:
        return []
    stmt = list_select({}, editor=False).where(sa.or_(*conditions)).limit(limit)
    return db.session.execute(stmt).scalars().all()


# -- public links ---------------------------------------------------------------------------------
TOKEN_BYTES = 16  # 128 bits: as hard to guess as a session id


def public_link(article: Article) -> PublicLink | None:
    """This hospital's public link to the article, if it made one."""
    return db.session.execute(sa.select(PublicLink).where(PublicLink.article_id == article.id)).scalar_one_or_none()


def public_links(article_ids) -> dict[int, PublicLink]:
    if not article_ids:
        return {}
    rows = db.session.execute(sa.select(PublicLink).where(PublicLink.article_id.in_(article_ids))).scalars()
    return {link.article_id: link for link in rows}


def make_public_link(article: Article, *, user=None) -> PublicLink:
    """A new public link for a published article; an existing one gets a new token (its old
    address stops working at once)."""
    if article.status != "published":
        raise ValidationError({"status": [_("Only a published article can have a public link.")]})
    link = public_link(article)
    if link is None:
        link = PublicLink(article_id=article.id)
        db.session.add(link)
    link.token = secrets.token_urlsafe(TOKEN_BYTES)
    link.created_by_name = _user_name(user)
    link.created_at = utcnow()
    db.session.flush()
    return link


def revoke_public_link(article: Article) -> bool:
    """Delete this hospital's public link to the article; False when there was none."""
    link = public_link(article)
    if link is None:
        return False
    db.session.delete(link)
    db.session.flush()
    return True


def published_by_token(token: str):
    """(hospital, article) a public link opens, or None: the token must exist, its hospital be
    active with the knowledge base live, and the article be published and readable by that
    hospital (its own or the group's). The caller renders inside ``hospital_scope(hospital)``."""
    if not token or len(token) > 64:
        return None
    with system_scope():
        row = db.session.execute(sa.select(PublicLink.hospital_id, PublicLink.article_id)
                                 .where(PublicLink.token == token)).first()
        hospital = db.session.get(Hospital, row.hospital_id) if row else None
        if hospital is None or not hospital.active or "knowledge_base" not in live_plugins(hospital.id):
            return None
    with hospital_scope(hospital):
        article = db.session.execute(sa.select(Article).where(Article.id == row.article_id,
                                                              Article.status == "published")).scalar_one_or_none()
    return (hospital, article) if article is not None else None


# -- statistics -----------------------------------------------------------------------------------
def count(article: Article, what: str) -> None:
    """One more view or send of the article in this hospital."""
    stat = db.session.execute(sa.select(ArticleStat).where(ArticleStat.article_id == article.id)).scalar_one_or_none()
    if stat is None:
        stat = ArticleStat(article_id=article.id, views=0, sends=0)
        db.session.add(stat)
    setattr(stat, what, (getattr(stat, what) or 0) + 1)


def stats_of(article_ids) -> dict[int, ArticleStat]:
    if not article_ids:
        return {}
    rows = db.session.execute(sa.select(ArticleStat).where(ArticleStat.article_id.in_(article_ids))).scalars()
    return {s.article_id: s for s in rows}


# -- terms ---------------------------------------------------------------------------------------
def add_term(word: str) -> Term:
    """A medical term of the hospital: a dictionary word from now on; the articles mentioning it
    are indexed again so that it finds them as one word."""
    word = (word or "").strip()
    if not word or len(word) > 32 or not search.WORD.fullmatch(word):
        raise ValidationError({"word": [_("A term is one word of at most 32 letters, without spaces or punctuation.")]})
    if db.session.execute(sa.select(Term.id).where(Term.word == word)).first():
        raise ValidationError({"word": [_("This term is already in the list.")]})
    term = Term(word=word)
    db.session.add(term)
    db.session.flush()
    search.forget_terms()
    reindex(sa.or_(Article.title.contains(word, autoescape=True), Article.body.contains(word, autoescape=True)))
    return term


def reindex(condition=None) -> int:
    """Recompute the tokens of this hospital's articles matching ``condition``."""
    terms = search.hospital_terms()
    condition = sa.true() if condition is None else condition
    articles = db.session.execute(sa.select(Article).where(condition, Article.hospital_id.is_not(None))).scalars().all()
    for article in articles:
        search.fill_tokens(article, terms)
    db.session.flush()
    search.sync(articles)
    return len(articles)

