"""短语库 pages: the phrases a user may use, adding, editing and deleting them."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from core.i18n import gettext as _
from core.permissions import can, denied, require
from core.tenancy import get_or_404
from plugins.followup.models import Phrase
from plugins.followup.outreach import phrases
from plugins.followup.outreach.forms import PhraseForm, category_choices, map_errors
from plugins.followup.outreach.validation import OutreachInvalid

TEMPLATES = str(Path(__file__).resolve().parent.parent / "templates")
bp = Blueprint("followup_phrases", __name__, url_prefix="/followup/phrases", template_folder=TEMPLATES)


def _form(phrase: Phrase | None = None) -> PhraseForm:
    form = PhraseForm(obj=phrase) if phrase is not None and request.method == "GET" else PhraseForm()
    form.category_id.choices = category_choices()
    if phrase is not None and request.method == "GET":
        form.category_id.data = str(phrase.category_id or "")
    if not can(phrases.MANAGE):
        form.shared.data = False
        form.shared.render_kw = {"disabled": True}
        form.shared.description = _("Only phrase library managers share phrases; yours stay private.")
    return form


@bp.route("/", methods=["GET", "POST"])
@require("followup.read")
def index():
    category_id = request.args.get("category_id", type=int)
    form = _form()
    if request.method == "POST":
        if not can("followup.create"):
            abort(403, description=denied("followup.create"))
        try:
            phrases.create_phrase(request.form, current_user)
        except OutreachInvalid as exc:
            map_errors(form, exc.errors)
        else:
            flash(_("Phrase added."), "success")
            return redirect(url_for("followup_phrases.index"))
    return render_template("followup/outreach/phrases.html", form=form, category_id=category_id,
                           phrases=phrases.phrases_for(current_user, category_id),
                           categories=category_choices()[1:], may_edit=lambda p: phrases.may_edit(current_user, p)), \
        400 if form.errors or form.form_errors else 200


@bp.route("/<int:phrase_id>", methods=["GET", "POST"])
@require("followup.create")
def edit(phrase_id):
    phrase = get_or_404(Phrase, phrase_id)
    if not phrase.shared and phrase.created_by_id != current_user.id:
        abort(404)  # someone else's private phrase is not there for this user
    form = _form(phrase)
    if request.method == "POST":
        try:
            phrases.update_phrase(phrase, request.form, current_user)
        except OutreachInvalid as exc:
            map_errors(form, exc.errors)
        else:
            flash(_("Phrase saved."), "success")
            return redirect(url_for("followup_phrases.index"))
    return render_template("followup/outreach/phrase_form.html", form=form, phrase=phrase), \
        400 if form.errors or form.form_errors else 200


@bp.route("/<int:phrase_id>/delete", methods=["POST"])
@require("followup.create")
def delete(phrase_id):
    phrase = get_or_404(Phrase, phrase_id)
    try:
        phrases.delete_phrase(phrase, current_user)
    except OutreachInvalid as exc:
        flash(" ".join(exc.errors.values()), "danger")
    else:
        flash(_("Phrase deleted."), "success")
    return redirect(url_for("followup_phrases.index"))
