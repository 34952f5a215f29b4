"""Knowledge base API (/api/v1/knowledge_base): list and search (the list page's filter schema),
read, create, update, and move along the review flow. Same services as the pages."""
from __future__ import annotations

from flask import Blueprint, abort
from flask_login import current_user
from sqlalchemy.orm import defer

from core.api import api_route, paginate
from core.extensions import db
from core.permissions import can
from core.tenancy import get_or_404

from . import search, services
from .models import Article
from .schemas import (
    ApiFilterSchema,
    ArticleCreateQuerySchema,
    ArticleListSchema,
    ArticleSchema,
    ArticleUpdateSchema,
    PublishSchema,
)

COUNT_CAP = 10_000  # a common word matches much of the base: "10,000+" is all a list needs
bp = Blueprint("knowledge_base_api", __name__, url_prefix="/api/v1/knowledge_base")


def _visible(article_id: int) -> Article:
    article = get_or_404(Article, article_id)
    if article.status != "published" and not can("knowledge_base.edit"):
        abort(404)
    return article


@api_route(bp, "/articles", permission="knowledge_base.read", query=ApiFilterSchema, response=ArticleListSchema,
           paginated=True)
def list_articles(query):
    """List or search articles.

    `q` searches the title (weighted above the text), text, summary and tags in Chinese words
    (`股骨 骨折 康复`) or a title's pinyin initials; best match first. Readers see published
    articles, editors every status. A search lists its best 500 matches at most (title matches
    first, then the newest, ranked); `total` stops there. A search of only punctuation or longer
    than 200 characters is a 400.
    """
    editor = can("knowledge_base.edit")
    return paginate(services.list_select(query, editor=editor), count_cap=search.result_cap(query["tokens"], COUNT_CAP),
                    counted=services.list_select(query, editor=editor, ranked=False), load=(defer(Article.body),))


@api_route(bp, "/articles/<int:article_id>", permission="knowledge_base.read", response=ArticleSchema)
def get_article(article_id):
    """One article, with its sanitised HTML text."""
    return _visible(article_id)


@api_route(bp, "/articles", methods=("POST",), permission="knowledge_base.edit", query=ArticleCreateQuerySchema,
           body=ArticleSchema, response=ArticleSchema, status=201, errors=(403,))
def create_article(query, body):
    """Create an article (a draft)."""
    if query["group"] and not can("knowledge_base.group_edit"):
        abort(403, description="knowledge_base.group_edit")
    article = services.save_article(None, body, user=current_user, group=query["group"])
    db.session.commit()
    return article


@api_route(bp, "/articles/<int:article_id>", methods=("PATCH",), permission="knowledge_base.edit",
           body=ArticleUpdateSchema, response=ArticleSchema, errors=(403,))
def update_article(article_id, body):
    """Change an article; a published one keeps its previous version."""
    article = get_or_404(Article, article_id)
    if article.status == "published" and not can("knowledge_base.publish"):
        abort(403, description="knowledge_base.publish")
    services.save_article(article, body, user=current_user)
    db.session.commit()
    return article


@api_route(bp, "/articles/<int:article_id>/publish", methods=("POST",), permission="knowledge_base.edit",
           body=PublishSchema, response=ArticleSchema, errors=(403,))
def publish_article(article_id, body):
    """Move an article along the review flow: `submit`, `publish` (default), `reject`, `archive`, `reopen`."""
    article = get_or_404(Article, article_id)
    services.transition(article, body["action"], user=current_user, may=can)
    db.session.commit()
    return article
