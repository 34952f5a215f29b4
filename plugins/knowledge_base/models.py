"""The knowledge base's tables (医院知识库).

Articles and their versions are :class:`core.tenancy.GroupShared`: ``hospital_id`` NULL is an
article of the whole group, read by every hospital and written only by a group-level editor (the
core's tenancy rules decide, in one place). Because a group row may refer only to group rows, an
article names its type by ``type_code`` (each hospital keeps its own list of types, seeded with
the same codes), its departments by name and its author and reviewer by id and name, without a
foreign key into one hospital. Reading statistics are per hospital (:class:`ArticleStat`), so
counting a view of a group article writes nothing of the group's.

Search (see search.py): ``title_tokens`` and ``body_tokens`` hold the words of the title and the
text as the Chinese segmenter cut them, space-separated, plus the pinyin initials of the title.
PostgreSQL indexes them with a weighted ``tsvector`` expression (GIN index created by the
migration); SQLite keeps them in the FTS5 table ``knowledge_base_fts`` (also the migration's).
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import relationship

from core.choices import ChoiceList
from core.extensions import db
from core.models import utcnow
from core.tenancy import GroupShared, HospitalOwned

STATUSES = ("draft", "review", "published", "archived")
DEFAULT_TYPES = (  # code, name
    ("education", "健康宣教"),
    ("medication", "用药指导"),
    ("discharge", "出院指导"),
    ("postop", "术后护理"),
    ("sms", "短信模板"),
    ("faq", "常见问题"),
)


class ArticleType(ChoiceList, db.Model):
    """文章类型: hospital-configurable; an article refers to its type by code."""

    __tablename__ = "knowledge_base_type"


class Term(HospitalOwned, db.Model):
    """A medical term the hospital added (阑尾炎术后): one word for the segmenter."""

    __tablename__ = "knowledge_base_term"
    __table_args__ = (sa.UniqueConstraint("hospital_id", "word"),)
    id = sa.Column(sa.Integer, primary_key=True)
    word = sa.Column(sa.String(32), nullable=False)
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)


class Article(GroupShared, db.Model):
    """An article: health education, advice, an SMS text, a FAQ…"""

    __tablename__ = "knowledge_base_article"
    __hcrm_audit_exclude__ = ("title_tokens", "body_tokens", "search_vector")  # derived from the text
    __table_args__ = (sa.Index("ix_knowledge_base_article_status", "hospital_id", "status"),)
    id = sa.Column(sa.Integer, primary_key=True)
    type_code = sa.Column(sa.String(32), nullable=False)
    title = sa.Column(sa.String(200), nullable=False)
    summary = sa.Column(sa.String(500), nullable=True)
    body = sa.Column(sa.Text, nullable=False, default="")  # sanitised HTML
    sms_text = sa.Column(sa.String(500), nullable=True)
    # Lists kept as "|a|b|" so that one LIKE filters them on every database.
    tags = sa.Column(sa.String(500), nullable=False, default="")
    departments = sa.Column(sa.String(500), nullable=False, default="")
    icd_codes = sa.Column(sa.String(500), nullable=False, default="")
    status = sa.Column(sa.String(16), nullable=False, default="draft")
    author_id = sa.Column(sa.Integer, nullable=True)  # a user of the hospital that wrote it; no FK (group rows)
    author_name = sa.Column(sa.String(64), nullable=True)
    reviewer_id = sa.Column(sa.Integer, nullable=True)
    reviewer_name = sa.Column(sa.String(64), nullable=True)
    published_at = sa.Column(sa.DateTime, nullable=True)
    # local copy of; indexed: every list asks "has this hospital a copy of it?" for each row
    source_id = sa.Column(sa.Integer, sa.ForeignKey("knowledge_base_article.id"), nullable=True, index=True)
    version = sa.Column(sa.Integer, nullable=False, default=1)
    title_tokens = sa.Column(sa.Text, nullable=False, default="")
    body_tokens = sa.Column(sa.Text, nullable=False, default="")
    # PostgreSQL: a stored generated column (SEARCH_VECTOR, see the migration), GIN-indexed, which
    # the search matches and ranks without recomputing it; never written by the ORM. SQLite: unused.
    search_vector = sa.Column(sa.Text().with_variant(TSVECTOR(), "postgresql"), nullable=True,
                              server_default=sa.FetchedValue(), server_onupdate=sa.FetchedValue())
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
    updated_at = sa.Column(sa.DateTime, nullable=False, default=utcnow, onupdate=utcnow)

    source = relationship("Article", remote_side=[id])
    versions = relationship("ArticleVersion", back_populates="article", order_by="ArticleVersion.number.desc()",
                            cascade="all, delete-orphan")

    @property
    def is_group(self) -> bool:
        return self.hospital_id is None

    @staticmethod
    def split(value: str | None) -> list[str]:
        return [part for part in (value or "").split("|") if part]

    @staticmethod
    def join(values) -> str:
        items = [v.strip().replace("|", " ") for v in values if v and v.strip()]
        return f"|{'|'.join(dict.fromkeys(items))}|" if items else ""

    @property
    def tag_list(self) -> list[str]:
        return self.split(self.tags)

    @property
    def department_list(self) -> list[str]:
        return self.split(self.departments)

    @property
    def icd_list(self) -> list[str]:
        return self.split(self.icd_codes)


class ArticleVersion(GroupShared, db.Model):
    """A published article as it was before a later save (版本)."""

    __tablename__ = "knowledge_base_version"
    __table_args__ = (sa.UniqueConstraint("article_id", "number"),)
    id = sa.Column(sa.Integer, primary_key=True)
    article_id = sa.Column(sa.Integer, sa.ForeignKey("knowledge_base_article.id"), nullable=False, index=True)
    number = sa.Column(sa.Integer, nullable=False)
    title = sa.Column(sa.String(200), nullable=False)
    summary = sa.Column(sa.String(500), nullable=True)
    body = sa.Column(sa.Text, nullable=False, default="")
    sms_text = sa.Column(sa.String(500), nullable=True)
    saved_by_name = sa.Column(sa.String(64), nullable=True)
    saved_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)

    article = relationship("Article", back_populates="versions")


class ArticleStat(HospitalOwned, db.Model):
    """Reading statistics of one article in one hospital: views and SMS sends."""

    __tablename__ = "knowledge_base_stat"
    __table_args__ = (sa.UniqueConstraint("hospital_id", "article_id"),)
    __hcrm_audit__ = False  # counters, not records
    id = sa.Column(sa.Integer, primary_key=True)
    article_id = sa.Column(sa.Integer, sa.ForeignKey("knowledge_base_article.id"), nullable=False, index=True)
    views = sa.Column(sa.Integer, nullable=False, default=0)
    sends = sa.Column(sa.Integer, nullable=False, default=0)


class PublicLink(HospitalOwned, db.Model):
    """A hospital's public read-only link to a published article (公开链接), for an SMS to carry:
    the token is the whole address (unguessable, 128 bits), not the article's id, so links cannot
    be enumerated. One per article and hospital — a group article gets one per hospital, with that
    hospital's name on the page. Revoking deletes the row; a new link replaces the token."""

    __tablename__ = "knowledge_base_link"
    __table_args__ = (sa.UniqueConstraint("hospital_id", "article_id"),)
    __hcrm_audit_exclude__ = ("token",)  # the audit log records that a link changed, not the secret
    id = sa.Column(sa.Integer, primary_key=True)
    article_id = sa.Column(sa.Integer, sa.ForeignKey("knowledge_base_article.id"), nullable=False, index=True)
    token = sa.Column(sa.String(64), nullable=False, unique=True)
    created_by_name = sa.Column(sa.String(64), nullable=True)
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)


class ImportJob(HospitalOwned, db.Model):
    """An uploaded spreadsheet of articles and what its queued import made of it."""

    __tablename__ = "knowledge_base_import"
    id = sa.Column(sa.Integer, primary_key=True)
    filename = sa.Column(sa.String(200), nullable=False)
    path = sa.Column(sa.String(500), nullable=False)
    kind = sa.Column(sa.String(8), nullable=False)  # xlsx / csv
    state = sa.Column(sa.String(16), nullable=False, default="queued")  # queued, done, refused, failed
    rows = sa.Column(sa.Integer, nullable=False, default=0)
    imported = sa.Column(sa.Integer, nullable=False, default=0)
    errors = sa.Column(sa.JSON, nullable=True)  # [[row number, [reasons]]]
    message = sa.Column(sa.String(500), nullable=True)
    user_id = sa.Column(sa.Integer, sa.ForeignKey("core_user.id"), nullable=True)
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)


# PostgreSQL's search vector: the title's words weighted A, the rest B ('simple': no stemming,
# the words are jieba's already). The migration makes search_vector a generated column of it.
SEARCH_VECTOR = ("setweight(to_tsvector('simple'::regconfig, title_tokens), 'A'::\"char\") || "
                 "setweight(to_tsvector('simple'::regconfig, body_tokens), 'B'::\"char\")")
sa.Index("ix_knowledge_base_article_search", Article.__table__.c.search_vector, postgresql_using="gin")
# The title's words alone (search.match finds its candidates, title matches first, with it).
Article.__table__.append_constraint(sa.Index(
    "ix_knowledge_base_article_title_search",
    sa.func.to_tsvector(sa.literal_column("'simple'::regconfig"), Article.__table__.c.title_tokens),
    postgresql_using="gin").ddl_if(dialect="postgresql"))

MODELS = [ArticleType, Term, Article, ArticleVersion, ArticleStat, PublicLink, ImportJob]
