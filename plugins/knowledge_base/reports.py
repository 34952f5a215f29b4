"""Reading statistics as a report (Reports menu, CSV/.xlsx export by the core): the articles most
viewed and sent in this hospital."""
from __future__ import annotations

import sqlalchemy as sa

from core.declarations import Chart, Report, ReportParam, ReportResult
from core.extensions import db
from core.i18n import lazy_gettext as _l

from . import services
from .models import Article, ArticleStat


def most_read(params) -> ReportResult:
    names = services.type_names()
    rows = db.session.execute(
        sa.select(Article.title, Article.type_code, Article.hospital_id, ArticleStat.views, ArticleStat.sends)
        .join(ArticleStat, ArticleStat.article_id == Article.id)
        .order_by(ArticleStat.views.desc(), ArticleStat.sends.desc(), Article.id)
        .limit(params["top"])).all()
    return ReportResult(
        columns=[("title", _l("Title")), ("type", _l("Type")), ("group", _l("Shared by the group")),
                 ("views", _l("Views")), ("sends", _l("Sends"))],
        rows=[{"title": r.title, "type": names.get(r.type_code, r.type_code),
               "group": "✓" if r.hospital_id is None else "", "views": r.views, "sends": r.sends} for r in rows])


def reports() -> list[Report]:
    return [Report("knowledge_base.most_read", _l("Knowledge base: most read articles"), "knowledge_base.read",
                   query=most_read, chart=Chart("bar", x="title", y=("views", "sends")),
                   params=[ReportParam("top", _l("How many"), "int", default=20)],
                   description=_l("Views of each article and its insertions into SMS, in this hospital."))]
