"""Settings pages of the patient archive: the disease catalogue (and its CSV import), sources,
regions and referrers. Routes register on the patients blueprint (imported by views.py).
Thin: the rules live in settings_services.py."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from core import tenancy
from core.extensions import db
from core.i18n import gettext as _
from core.integers import digits_or_none
from core.permissions import require
from plugins.patients import settings_services as svc
from plugins.patients.forms import (
    DiseaseForm,
    DiseaseImportForm,
    NameForm,
    ReferrerForm,
    RegionForm,
    SourceForm,
    map_errors,
    options,
    user_choices,
)
from plugins.patients.models import Disease, Referrer, Region, Source
from plugins.patients.views import bp

DISEASES_PER_PAGE = 50


def _is_on(value) -> bool:
    return value in ("1", "on", "true", "yes")


# -- the disease catalogue ----------------------------------------------------------------------
def _diseases_page(form=None, status=200):
    q = (request.args.get("q") or "").strip()[:50]
    show = request.args.get("show", "active")
    page_no = request.args.get("page", "1")
    if not digits_or_none(page_no) or show not in ("active", "all"):
        return render_template("patients/diseases.html", page=None, q=q, show="active", form=form or DiseaseForm(),
                               error=_("Invalid page or filter.")), 400
    page = db.paginate(svc.search_diseases(q, include_inactive=show == "all"), page=int(page_no),
                       per_page=DISEASES_PER_PAGE, error_out=False)
    return render_template("patients/diseases.html", page=page, q=q, show=show, form=form or DiseaseForm(),
                           error=None), status


@bp.route("/diseases")
@require("patients.read")
def diseases():
    return _diseases_page()


@bp.route("/diseases/new", methods=["POST"])
@require("patients.settings")
def disease_new():
    form = DiseaseForm()
    try:
        disease = svc.add_disease(form.code.data, form.name.data)
    except svc.SettingsInvalid as exc:
        db.session.rollback()
        map_errors(form, exc.errors)
        return _diseases_page(form, status=400)
    flash(_("%(code)s %(name)s added to the catalogue.", code=disease.code, name=disease.name), "success")
    return redirect(url_for("patients.diseases", q=disease.code))


@bp.route("/diseases/<int:disease_id>/edit", methods=["GET", "POST"])
@require("patients.settings")
def disease_edit(disease_id):
    disease = tenancy.get_or_404(Disease, disease_id)
    form = DiseaseForm(obj=disease)
    if request.method == "POST":
        if not disease.custom:
            form.name.errors = [_("Entries of the shipped ICD-10 list keep their name; deactivate it instead.")]
            return render_template("patients/disease_form.html", form=form, disease=disease), 400
        try:
            svc.rename_disease(disease, form.name.data)
        except svc.SettingsInvalid as exc:
            db.session.rollback()
            map_errors(form, exc.errors)
            return render_template("patients/disease_form.html", form=form, disease=disease), 400
        flash(_("%(code)s saved.", code=disease.code), "success")
        return redirect(url_for("patients.diseases", q=disease.code))
    return render_template("patients/disease_form.html", form=form, disease=disease)


@bp.route("/diseases/<int:disease_id>/active", methods=["POST"])
@require("patients.settings")
def disease_active(disease_id):
    disease = tenancy.get_or_404(Disease, disease_id)
    svc.set_active(disease, _is_on(request.form.get("active")))
    flash(_("%(code)s is now active.", code=disease.code) if disease.active
          else _("%(code)s deactivated: it is no longer suggested for new visits.", code=disease.code), "success")
    return redirect(request.form.get("next") if (request.form.get("next") or "").startswith("/patients/")
                    else url_for("patients.diseases"))


@bp.route("/diseases/import", methods=["GET", "POST"])
@require("patients.settings")
def disease_import():
    form = DiseaseImportForm()
    if request.method == "GET":
        return render_template("patients/disease_import.html", form=form, errors=[])
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return render_template("patients/disease_import.html", form=form,
                               errors=[(None, _("Choose a CSV file to import."))]), 400
    raw = upload.stream.read(svc.DISEASE_CSV_LIMIT + 1)  # never more than the limit in memory
    try:
        result = svc.import_diseases_csv(raw)
    except svc.DiseaseImportError as exc:
        db.session.rollback()
        return render_template("patients/disease_import.html", form=form, errors=exc.errors,
                               filename=upload.filename), 413 if exc.too_large else 400
    flash(_("Catalogue imported: %(added)d added, %(updated)d updated, %(unchanged)d unchanged.",
            added=result.added, updated=result.updated, unchanged=result.unchanged), "success")
    return redirect(url_for("patients.diseases"))


# -- sources ------------------------------------------------------------------------------------
@bp.route("/settings")
@require("patients.settings")
def settings():
    """The settings' menu entry: its address is the prefix of every settings page, so the menu
    lights it up on all of them."""
    return redirect(url_for("patients.settings_sources"))


def _sources_page(form=None, row_errors=None, status=200):
    return render_template("patients/settings_sources.html", sources=svc.ordered_sources(),
                           form=form or SourceForm(formdata=None), row_errors=row_errors or {}), status


@bp.route("/settings/sources", methods=["GET", "POST"])
@require("patients.settings")
def settings_sources():
    if request.method == "GET":
        return _sources_page()
    form = SourceForm()
    try:
        source = svc.add_source(form.name.data, form.code.data)
    except svc.SettingsInvalid as exc:
        db.session.rollback()
        map_errors(form, exc.errors)
        return _sources_page(form, status=400)
    flash(_("Source “%(name)s” added.", name=source.name), "success")
    return redirect(url_for("patients.settings_sources"))


@bp.route("/settings/sources/<int:source_id>", methods=["POST"])
@require("patients.settings")
def source_rename(source_id):
    source = tenancy.get_or_404(Source, source_id)
    try:
        svc.rename_source(source, NameForm().name.data)
    except svc.SettingsInvalid as exc:
        db.session.rollback()
        return _sources_page(row_errors={source.id: exc.errors["name"]}, status=400)
    flash(_("Source “%(name)s” saved.", name=source.name), "success")
    return redirect(url_for("patients.settings_sources"))


@bp.route("/settings/sources/<int:source_id>/active", methods=["POST"])
@require("patients.settings")
def source_active(source_id):
    svc.set_active(tenancy.get_or_404(Source, source_id), _is_on(request.form.get("active")))
    return redirect(url_for("patients.settings_sources"))


@bp.route("/settings/sources/<int:source_id>/move", methods=["POST"])
@require("patients.settings")
def source_move(source_id):
    svc.move_source(tenancy.get_or_404(Source, source_id), -1 if request.form.get("step") == "up" else 1)
    return redirect(url_for("patients.settings_sources"))


# -- regions ------------------------------------------------------------------------------------
def _regions_page(form=None, row_errors=None, status=200):
    tree = svc.region_tree()
    if form is None:
        form = RegionForm(formdata=None, data={"parent_id": request.args.get("county", "")})
    form.parent_id.choices = options([("", _("— none: a county —"))] + [(str(c.id), c.name) for c, _streets in tree])
    return render_template("patients/settings_regions.html", tree=tree, form=form,
                           row_errors=row_errors or {}), status


@bp.route("/settings/regions", methods=["GET", "POST"])
@require("patients.settings")
def settings_regions():
    if request.method == "GET":
        return _regions_page()
    form = RegionForm()
    try:
        region = svc.add_region(form.name.data, form.parent_id.data)
    except svc.SettingsInvalid as exc:
        db.session.rollback()
        map_errors(form, exc.errors)
        return _regions_page(form, status=400)
    flash(_("“%(name)s” added.", name=str(region)), "success")
    return redirect(url_for("patients.settings_regions", county=region.parent_id or region.id))


@bp.route("/settings/regions/<int:region_id>", methods=["POST"])
@require("patients.settings")
def region_rename(region_id):
    region = tenancy.get_or_404(Region, region_id)
    try:
        svc.rename_region(region, NameForm().name.data)
    except svc.SettingsInvalid as exc:
        db.session.rollback()
        return _regions_page(row_errors={region.id: exc.errors["name"]}, status=400)
    flash(_("“%(name)s” saved.", name=str(region)), "success")
    return redirect(url_for("patients.settings_regions"))


@bp.route("/settings/regions/<int:region_id>/active", methods=["POST"])
@require("patients.settings")
def region_active(region_id):
    svc.set_active(tenancy.get_or_404(Region, region_id), _is_on(request.form.get("active")))
    return redirect(url_for("patients.settings_regions"))


# -- referrers ----------------------------------------------------------------------------------
def _referrer_form(referrer=None, formdata=True):
    if formdata:
        form = ReferrerForm()
    else:
        form = ReferrerForm(formdata=None, data={} if referrer is None else {
            "name": referrer.name, "phone": referrer.phone or "", "notes": referrer.notes or "",
            "user_id": str(referrer.user_id or "")})
    form.user_id.choices = user_choices(referrer.user_id if referrer else None)
    return form


def _save_referrer(referrer, form) -> Referrer:
    return svc.save_referrer(referrer, name=form.name.data, phone=form.phone.data, user_id=form.user_id.data,
                             notes=form.notes.data)


@bp.route("/settings/referrers", methods=["GET", "POST"])
@require("patients.settings")
def settings_referrers():
    form = _referrer_form(formdata=request.method == "POST")
    status = 200
    if request.method == "POST":
        try:
            referrer = _save_referrer(None, form)
        except svc.SettingsInvalid as exc:
            db.session.rollback()
            map_errors(form, exc.errors)
            status = 400
        else:
            flash(_("Referrer “%(name)s” added.", name=referrer.name), "success")
            return redirect(url_for("patients.settings_referrers"))
    referrers = db.session.execute(db.select(Referrer).order_by(Referrer.active.desc(), Referrer.name)).scalars().all()
    users = {int(c.value): c.label for c in user_choices() if c.value}
    return render_template("patients/settings_referrers.html", referrers=referrers, form=form, users=users), status


@bp.route("/settings/referrers/<int:referrer_id>", methods=["GET", "POST"])
@require("patients.settings")
def referrer_edit(referrer_id):
    referrer = tenancy.get_or_404(Referrer, referrer_id)
    form = _referrer_form(referrer, formdata=request.method == "POST")
    if request.method == "POST":
        try:
            _save_referrer(referrer, form)
        except svc.SettingsInvalid as exc:
            db.session.rollback()
            map_errors(form, exc.errors)
            return render_template("patients/referrer_form.html", form=form, referrer=referrer), 400
        flash(_("Referrer “%(name)s” saved.", name=referrer.name), "success")
        return redirect(url_for("patients.settings_referrers"))
    return render_template("patients/referrer_form.html", form=form, referrer=referrer)


@bp.route("/settings/referrers/<int:referrer_id>/active", methods=["POST"])
@require("patients.settings")
def referrer_active(referrer_id):
    svc.set_active(tenancy.get_or_404(Referrer, referrer_id), _is_on(request.form.get("active")))
    return redirect(url_for("patients.settings_referrers"))
