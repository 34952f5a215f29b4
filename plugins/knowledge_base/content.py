"""The knowledge base as a content source of the follow-up centre (``followup_content_sources``):
the picker on the SMS and follow-up forms searches the published articles, the patient's
departments and diagnoses first, and inserts an article's SMS version or a link: its public link
when the hospital made one, else its handout."""
from __future__ import annotations

import sqlalchemy as sa
from flask import url_for

from core.extensions import db
from core.i18n import gettext as _

from . import search, services
from .models import Article


class KnowledgeBaseSource:
    name = "knowledge_base"

    @property
    def title(self) -> str:
        return _("Knowledge base")

    def _item(self, article: Article, links: dict) -> dict:
        """The article as the picker shows it; its link is the public one (what an SMS to a
        patient can carry) when the hospital made one, else the handout (staff only)."""
        link = links.get(article.id)
        return {"id": article.id, "title": article.title, "summary": article.summary,
                "text": article.sms_text or article.summary or article.title,
                "link": url_for("knowledge_base.public_article", token=link.token, _external=True) if link
                else url_for("knowledge_base.handout_page", article_id=article.id, _external=True)}

    def _items(self, articles) -> list[dict]:
        articles = list(articles)
        links = services.public_links([a.id for a in articles])
        return [self._item(a, links) for a in articles]

    def search(self, q, *, departments, diagnoses, limit):
        q = (q or "").strip()
        if not q:
            return self._items(services.matching_patient(departments, diagnoses, limit))
        try:
            tokens = search.query_words(q)
        except search.QueryRefused as exc:
            raise ValueError(_("Type at least one word, letter or number to search for.")
                             if str(exc) == "empty" else _("The search is too long.")) from None
        return self._items(db.session.execute(services.list_select({"tokens": tokens}, editor=False)
                                              .limit(limit)).scalars())

    def used(self, item_id):
        article = db.session.execute(sa.select(Article).where(Article.id == item_id,
                                                              Article.status == "published")).scalar_one_or_none()
        if article is None:
            return None
        services.count(article, "sends")
        return self._item(article, services.public_links([article.id]))
