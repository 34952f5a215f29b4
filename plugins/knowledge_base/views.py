"""Knowledge base pages: the list and search, an article (detail, edit, review flow, versions,
handout), article types and medical terms, import and export. Thin: services.py, search.py and
transfer.py hold the rules."""
from __future__ import annotations

import io

import sqlalchemy as sa
from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup
from marshmallow import ValidationError

from core import choices
from core.clock import local_today
from core.extensions import db
from core.i18n import gettext as _
from core.paging import paginate_capped
from core.permissions import can, public, require
from core.report_export import content_disposition, to_csv, to_xlsx
from core.tenancy import current_scope, get_or_404, hospital_scope

from . import handout, search, services, transfer
from .forms import ArticleForm, ImportForm, TermForm, TypeForm
from .models import Article, ArticleType, ArticleVersion, ImportJob, Term
from .schemas import ArticleFilterSchema

bp = Blueprint("knowledge_base", __name__, url_prefix="/knowledge_base", template_folder="templates",
               static_folder="static")
PER_PAGE = 20
EXPORT_LIMIT = 10_000


@bp.context_processor
def helpers():
    # type_names() reads the hospital's types: called by the pages that show them, not for every
    # template of the blueprint (an error page may render before the request has a hospital).
    return dict(status_label=services.status_label, type_names=services.type_names,
                may_write=may_write, sms_segments=services.sms_segments)


def may_write(article: Article) -> bool:
    if article.hospital_id is None:
        scope = current_scope()
        return can("knowledge_base.group_edit") and bool(scope and scope.writes_group_rows)
    if article.status == "published":
        return can("knowledge_base.publish")
    return can("knowledge_base.edit")


def _errors_to_form(form, errors: dict) -> None:
    for field, messages in errors.items():
        target = getattr(form, field, None)
        messages = messages if isinstance(messages, list) else [str(messages)]
        if target is not None and hasattr(target, "errors"):
            target.errors = list(target.errors or []) + [str(m) for m in messages]
        else:
            form.form_errors.extend(str(m) for m in messages)


def _filters():
    """The filter set of the request (list page, export); (filters, error message or None)."""
    try:
        return ArticleFilterSchema().load(request.args), None
    except ValidationError as exc:
        message = "; ".join(str(m) for messages in exc.messages.values() for m in messages)
        return {"q": "", "tokens": []}, message


# -- list, search, export -----------------------------------------------------------------------
@bp.route("/")
@require("knowledge_base.read")
def index():
    filters, error = _filters()
    editor = can("knowledge_base.edit")
    page = paginate_capped(services.list_select(filters, editor=editor),
                           page=request.args.get("page", 1, type=int) or 1, per_page=PER_PAGE,
                           cap=search.result_cap(filters["tokens"], EXPORT_LIMIT),
                           counted=services.list_select(filters, editor=editor, ranked=False))
    rows = page.items
    return render_template("knowledge_base/index.html", page=page, filters=filters, error=error, editor=editor,
                           snippets={a.id: search.snippet(a, filters["tokens"]) for a in rows},
                           titles={a.id: search.highlight(a.title, filters["tokens"]) for a in rows},
                           stats=services.stats_of([a.id for a in rows]), types=services.active_types(),
                           args={k: v for k, v in request.args.items() if k not in ("page", "format")}), 400 if error else 200


@bp.route("/export")
@require("knowledge_base.export")
def export():
    fmt = "csv" if request.args.get("format") == "csv" else "xlsx"
    filters, error = _filters()
    if error:
        abort(400, description=error)
    result = transfer.export_result(filters, editor=can("knowledge_base.edit"), limit=EXPORT_LIMIT)
    title = _("Knowledge base")
    data = to_csv(result) if fmt == "csv" else to_xlsx(result, title)
    mimetype = "text/csv" if fmt == "csv" else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(data, mimetype=mimetype, headers={
        "Content-Disposition": content_disposition("knowledge_base", title, local_today(), fmt)})


# -- one article ----------------------------------------------------------------------------------
def _article_form(article: Article | None) -> ArticleForm:
    form = ArticleForm(obj=None) if request.method == "POST" else ArticleForm(
        type_code=article.type_code if article else None, title=article.title if article else None,
        summary=article.summary if article else None, body=article.body if article else None,
        sms_text=article.sms_text if article else None,
        tags=", ".join(article.tag_list) if article else None,
        departments=", ".join(article.department_list) if article else None,
        icd_codes=", ".join(article.icd_list) if article else None)
    form.type_code.choices = [(t.code, t.name) for t in services.active_types()]
    if article is not None and article.type_code not in {c for c, _n in form.type_code.choices}:
        form.type_code.choices.append((article.type_code, article.type_code))
    scope = current_scope()
    if article is not None or not (can("knowledge_base.group_edit") and scope and scope.writes_group_rows):
        del form.group
    return form


def _save(article: Article | None):
    form = _article_form(article)
    if form.validate_on_submit():
        try:
            saved = services.save_article(article, form.data_for_service(), user=current_user,
                                          group=bool(getattr(form, "group", None) and form.group.data))
        except ValidationError as exc:
            db.session.rollback()
            _errors_to_form(form, exc.messages)
        else:
            db.session.commit()
            flash(_("Article saved."), "success")
            return redirect(url_for("knowledge_base.article", article_id=saved.id))
    status = 400 if request.method == "POST" else 200
    return render_template("knowledge_base/form.html", form=form, article=article), status


@bp.route("/new", methods=["GET", "POST"])
@require("knowledge_base.edit")
def new():
    return _save(None)


@bp.route("/<int:article_id>/edit", methods=["GET", "POST"])
@require("knowledge_base.edit")
def edit(article_id):
    article = get_or_404(Article, article_id)
    if not may_write(article):
        abort(403, description=_("You may not change this article: a published article is changed by a reviewer, "
                                 "a group article by a group-level editor."))
    return _save(article)


@bp.route("/<int:article_id>")
@require("knowledge_base.read")
def article(article_id):
    record = get_or_404(Article, article_id)
    if record.status != "published" and not can("knowledge_base.edit"):
        abort(404)
    services.count(record, "views")
    db.session.commit()
    copy = None
    if record.hospital_id is None:
        copy = db.session.execute(sa.select(Article).where(Article.source_id == record.id,
                                                           Article.hospital_id.is_not(None))).scalars().first()
    link = services.public_link(record)
    return render_template("knowledge_base/article.html", article=record, body=Markup(services.sanitise(record.body)),
                           stat=services.stats_of([record.id]).get(record.id), copy=copy,
                           public_link=link, public_url=public_url(link),
                           actions=[a for a, (starts, _t, perm) in services.TRANSITIONS.items()
                                    if record.status in starts and can(perm)])


@bp.route("/<int:article_id>/status", methods=["POST"])
@require("knowledge_base.edit")
def change_status(article_id):
    record = get_or_404(Article, article_id)
    try:
        services.transition(record, request.form.get("action", ""), user=current_user, may=can)
        db.session.commit()
    except ValidationError as exc:
        db.session.rollback()
        flash("; ".join(str(m) for ms in exc.messages.values() for m in ms), "danger")
    else:
        flash(_("The article is now %(status)s.", status=services.status_label(record.status)), "success")
    return redirect(url_for("knowledge_base.article", article_id=article_id))


@bp.route("/<int:article_id>/copy", methods=["POST"])
@require("knowledge_base.edit")
def copy(article_id):
    record = get_or_404(Article, article_id)
    try:
        made = services.local_copy(record, user=current_user)
        db.session.commit()
    except ValidationError as exc:
        db.session.rollback()
        flash("; ".join(str(m) for ms in exc.messages.values() for m in ms), "danger")
        return redirect(url_for("knowledge_base.article", article_id=article_id))
    flash(_("This hospital's own copy of the article: adapt it and publish it."), "success")
    return redirect(url_for("knowledge_base.edit", article_id=made.id))


# -- versions -------------------------------------------------------------------------------------
@bp.route("/<int:article_id>/versions")
@require("knowledge_base.read")
def versions(article_id):
    record = get_or_404(Article, article_id)
    return render_template("knowledge_base/versions.html", article=record, versions=record.versions)


def _version(article_id: int, version_id: int) -> tuple[Article, ArticleVersion]:
    record = get_or_404(Article, article_id)
    version = get_or_404(ArticleVersion, version_id)
    if version.article_id != record.id:
        abort(404)
    return record, version


@bp.route("/<int:article_id>/versions/<int:version_id>")
@require("knowledge_base.read")
def version(article_id, version_id):
    record, old = _version(article_id, version_id)
    lines = services.diff(services.content_of(old), services.content_of(record))
    return render_template("knowledge_base/version.html", article=record, version=old, lines=lines)


@bp.route("/<int:article_id>/versions/<int:version_id>/restore", methods=["POST"])
@require("knowledge_base.edit")
def restore(article_id, version_id):
    record, old = _version(article_id, version_id)
    if not may_write(record):
        abort(403)
    services.restore(record, old, user=current_user)
    db.session.commit()
    flash(_("Version %(n)d restored; the text it replaced is kept as a version.", n=old.number), "success")
    return redirect(url_for("knowledge_base.article", article_id=article_id))


# -- handout and public link ----------------------------------------------------------------------
def public_url(link) -> str | None:
    return url_for("knowledge_base.public_article", token=link.token, _external=True) if link else None


@bp.route("/<int:article_id>/print")
@require("knowledge_base.read")
def handout_page(article_id):
    record = get_or_404(Article, article_id)
    if record.status != "published" and not can("knowledge_base.edit"):
        abort(404)
    return render_template("knowledge_base/handout.html", article=record, hospital=g.hcrm_hospital,
                           body=Markup(services.sanitise(record.body)), public=False)


@bp.route("/<int:article_id>/qr.svg")
@require("knowledge_base.read")
def qr(article_id):
    """The handout's QR code: the public link when the hospital made one (a patient can open
    it), else the handout's own address (staff only)."""
    record = get_or_404(Article, article_id)
    target = public_url(services.public_link(record)) if record.status == "published" else None
    svg = handout.qr_svg(target or url_for("knowledge_base.handout_page", article_id=record.id, _external=True))
    return Response(svg, mimetype="image/svg+xml", headers={"Cache-Control": "private, no-cache"})


@bp.route("/<int:article_id>/public_link", methods=["POST"])
@require("knowledge_base.edit")
def public_link(article_id):
    """Make, renew (a new address; the old one stops working) or revoke the public link."""
    record = get_or_404(Article, article_id)
    action = request.form.get("action", "")
    if action == "revoke":
        services.revoke_public_link(record)
        db.session.commit()
        flash(_("The public link is revoked: its address no longer opens the article."), "success")
    elif action in ("create", "renew"):
        try:
            services.make_public_link(record, user=current_user)
        except ValidationError as exc:
            db.session.rollback()
            flash("; ".join(str(m) for ms in exc.messages.values() for m in ms), "danger")
            return redirect(url_for("knowledge_base.article", article_id=article_id))
        db.session.commit()
        flash(_("Public link ready: anyone with its address can read this article without signing in."), "success")
    else:
        abort(400, description=_("Unknown action."))
    return redirect(url_for("knowledge_base.article", article_id=article_id))


@bp.route("/public/handout.css")
@public
def public_css():
    """The handout's stylesheet for the public page: the blueprint's static files need a sign-in
    like its pages (the core serves a plugin's routes to signed-in users only)."""
    return bp.send_static_file("handout.css")


@bp.route("/p/<token>")
@public
def public_article(token):
    """A published article for anyone holding its link (an SMS to a patient): no sign-in, the
    article's text and the hospital's name only. Unknown, revoked or renewed tokens, articles no
    longer published and hospitals without the plugin are one and the same 404."""
    found = services.published_by_token(token)
    if found is None:
        abort(404)
    hospital, record = found
    with hospital_scope(hospital):
        page = render_template("knowledge_base/handout.html", article=record, hospital=hospital,
                               body=Markup(services.sanitise(record.body)), public=True)
    # The token is the secret: no Referer to linked sites, no search engine, no shared cache
    # keeping a revoked article.
    return page, 200, {"Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex, nofollow",
                       "Cache-Control": "private, no-cache"}


# -- settings: types and terms ------------------------------------------------------------------
@bp.route("/settings/types", methods=["GET", "POST"])
@require("knowledge_base.manage")
def types():
    form = TypeForm()
    if form.validate_on_submit():
        code = form.code.data.strip()
        if db.session.execute(sa.select(ArticleType.id).where(ArticleType.code == code)).first():
            form.code.errors = [_("This code is already used.")]
        else:
            db.session.add(ArticleType(code=code, name=form.name.data.strip(),
                                       position=choices.next_position(ArticleType)))
            db.session.commit()
            flash(_("Article type added."), "success")
            return redirect(url_for("knowledge_base.types"))
    return render_template("knowledge_base/types.html", form=form, types=choices.ordered(ArticleType)), \
        400 if form.errors else 200


@bp.route("/settings/types/<int:type_id>/toggle", methods=["POST"])
@require("knowledge_base.manage")
def toggle_type(type_id):
    row = get_or_404(ArticleType, type_id)
    row.active = not row.active
    db.session.commit()
    return redirect(url_for("knowledge_base.types"))


@bp.route("/settings/terms", methods=["GET", "POST"])
@require("knowledge_base.manage")
def terms():
    form = TermForm()
    if form.validate_on_submit():
        try:
            services.add_term(form.word.data)
        except ValidationError as exc:
            db.session.rollback()
            _errors_to_form(form, exc.messages)
        else:
            db.session.commit()
            flash(_("Term added: the articles that mention it were indexed again."), "success")
            return redirect(url_for("knowledge_base.terms"))
    rows = db.session.execute(sa.select(Term).order_by(Term.word)).scalars().all()
    return render_template("knowledge_base/terms.html", form=form, terms=rows), 400 if form.errors else 200


@bp.route("/settings/terms/<int:term_id>/delete", methods=["POST"])
@require("knowledge_base.manage")
def delete_term(term_id):
    db.session.delete(get_or_404(Term, term_id))
    db.session.commit()
    search.forget_terms()
    return redirect(url_for("knowledge_base.terms"))


# -- import -------------------------------------------------------------------------------------
@bp.route("/import", methods=["GET", "POST"])
@require("knowledge_base.import")
def import_upload():
    form = ImportForm()
    if form.validate_on_submit():
        upload = request.files.get("file")
        try:
            job = transfer.start_import(upload.stream if upload else io.BytesIO(),
                                        upload.filename if upload else "", user=current_user)
        except transfer.ImportRefused as exc:
            db.session.rollback()
            form.file.errors = [str(exc)]
        else:
            return redirect(url_for("knowledge_base.import_status", job_id=job.id))
    recent = db.session.execute(sa.select(ImportJob).order_by(ImportJob.id.desc()).limit(10)).scalars().all()
    return render_template("knowledge_base/import.html", form=form, recent=recent), 400 if form.errors else 200


@bp.route("/import/<int:job_id>")
@require("knowledge_base.import")
def import_status(job_id):
    job = get_or_404(ImportJob, job_id)
    return render_template("knowledge_base/import_status.html", job=job)

