"""Thin views over core.admin.services: Apps, departments, users, roles and the audit log.

Every page works on the *current* hospital (``g.hcrm_hospital``). A group administrator's scope
reaches every hospital, so the user, role and department pages narrow it to the hospital they
switched to: the records they see and may pick are those of that hospital (the audit log keeps
the whole group in view).
"""
from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from core import activation, tenancy
from core.activation import ActivationError
from core.admin import bp
from core.admin import services as svc
from core.admin.forms import (
    SCOPE_LABELS,
    AuditFilterForm,
    DepartmentForm,
    ResetPasswordForm,
    RoleForm,
    UserCreateForm,
    UserEditForm,
)
from core.extensions import db
from core.i18n import plugin_text
from core.models import Department, Hospital, Role, User
from core.permissions import can, denied, effective_permissions, explain, hcrm, require

USERS_PER_PAGE = 25
AUDIT_PER_PAGE = 50


def _form_error(form, exc: svc.AdminError) -> None:
    """Show a service refusal on its field, or above the form."""
    field = getattr(form, exc.field, None) if exc.field else None
    if field is not None:
        field.errors = list(field.errors) + [exc.message]
    else:
        form.form_errors.append(exc.message)


# -- apps ---------------------------------------------------------------------------------------
def _render_apps(status: int = 200):
    """Plugins that give people something to open (pages, reports, cards, tabs) and the broken
    ones; the others come along as dependencies, and `hcrm plugins` still lists them all."""
    catalog = hcrm().catalog
    rows, hidden = [], 0
    for row in activation.overview(g.hcrm_hospital):
        if row.state != "broken" and not catalog.shows_something(row.name):
            hidden += 1
            continue
        row.title, row.summary = plugin_text(row.name, row.title), plugin_text(row.name, row.summary)
        rows.append(row)
    return render_template("admin/apps.html", rows=rows, hidden=hidden), status


@bp.route("/apps")
@require("core.plugins.read")
def apps():
    return _render_apps()


def _switch_plugin(name: str, enabled: bool):
    if not activation.is_known(name):
        abort(404, description=_("No app named “%(name)s” is installed.", name=name))
    try:
        report = activation.switch(g.hcrm_hospital, name, enabled, user_id=current_user.id)
    except ActivationError as exc:
        flash(exc.message.translated(), "danger")
        return _render_apps(409)
    for message in report.messages:
        flash(message.translated(), "success")
    return redirect(url_for("admin.apps"))


@bp.route("/apps/<name>/enable", methods=["POST"])
@require("core.plugins.manage")
def app_enable(name):
    return _switch_plugin(name, True)


@bp.route("/apps/<name>/disable", methods=["POST"])
@require("core.plugins.manage")
def app_disable(name):
    return _switch_plugin(name, False)


# -- departments --------------------------------------------------------------------------------
@bp.route("/departments")
@require("core.departments.read")
def departments():
    tree = svc.department_tree()
    counts = dict(db.session.execute(
        db.select(User.department_id, db.func.count()).group_by(User.department_id)).all())
    return render_template("admin/departments.html", tree=tree, counts=counts)


def _department_page(dept: Department | None):
    form = DepartmentForm(obj=dept)
    tree = svc.department_tree()
    form.parent.choices = [(0, _("— none (top level) —"))] + [
        (d.id, "\u2003" * depth + f"{d.name} ({d.code})") for d, depth in tree if dept is None or d.id != dept.id]
    if request.method == "GET" and dept is not None:
        form.parent.data = dept.parent_id or 0
    status = 200
    if form.validate_on_submit():
        try:
            svc.save_department(dept, code=form.code.data, name=form.name.data,
                                parent_id=form.parent.data or None, active=form.active.data)
        except svc.AdminError as exc:
            db.session.rollback()
            _form_error(form, exc)
        else:
            flash(_("Department “%(name)s” saved.", name=form.name.data.strip()), "success")
            return redirect(url_for("admin.departments"))
    if request.method == "POST":
        status = 400
    return render_template("admin/department_form.html", form=form, dept=dept), status


@bp.route("/departments/new", methods=["GET", "POST"])
@require("core.departments.edit")
def department_new():
    return _department_page(None)


@bp.route("/departments/<int:dept_id>", methods=["GET", "POST"])
@require("core.departments.edit")
def department_edit(dept_id):
    return _department_page(tenancy.get_or_404(Department, dept_id))


# -- users --------------------------------------------------------------------------------------
def _user_choices(form, user: User | None = None) -> None:
    form.department.choices = [(0, _("— none —"))] + [
        (d.id, "\u2003" * depth + d.name) for d, depth in svc.department_tree()
        if d.active or (user is not None and d.id == user.department_id)]
    form.roles.choices = [(r.id, r.name) for r in svc.assignable_roles(current_user)]
    if not current_user.is_group_admin:
        del form.is_group_admin


@bp.route("/users")
@require("core.users.read")
def users():
    q = request.args.get("q", "").strip()
    department_id = request.args.get("department", 0, type=int)
    role_id = request.args.get("role", 0, type=int)
    page = db.paginate(svc.user_select(q, department_id, role_id), page=request.args.get("page", 1, type=int),
                       per_page=USERS_PER_PAGE, error_out=False)
    roles = db.session.execute(db.select(Role).order_by(Role.is_default.desc(), Role.id)).scalars().all()
    return render_template("admin/users.html", page=page, q=q, department_id=department_id, role_id=role_id,
                           departments=svc.department_tree(), roles=roles)


@bp.route("/users/new", methods=["GET", "POST"])
@require("core.users.create")
def user_new():
    form = UserCreateForm()
    _user_choices(form)
    if form.validate_on_submit():
        try:
            user = svc.create_user(
                g.hcrm_hospital, username=form.username.data, display_name=form.display_name.data,
                password=form.password.data, department_id=form.department.data or None,
                role_ids=form.roles.data, actor=current_user,
                is_group_admin=bool(form.is_group_admin.data) if "is_group_admin" in form else False)
        except svc.NotAllowed as exc:
            db.session.rollback()
            abort(403, description=exc.message)
        except svc.AdminError as exc:
            db.session.rollback()
            _form_error(form, exc)
        else:
            flash(_("User “%(name)s” created.", name=user.username), "success")
            return redirect(url_for("admin.user_edit", user_id=user.id))
    status = 400 if request.method == "POST" else 200
    return render_template("admin/user_new.html", form=form), status


def _explanation(user: User):
    """The "why can't this user…?" choices, and the answer for the permission in the query string.

    Returns (groups, chosen, answer, error): groups are (title, [(name, label)]) with the core
    first and then every loaded plugin, live or not (the answer then says it is not enabled)."""
    state = hcrm()
    by_plugin: dict[str, list] = {}
    for perm in state.catalog.permissions.values():
        by_plugin.setdefault(perm.plugin, []).append((perm.name, f"{perm.name} — {perm.title}"))
    groups = [(_("Core"), by_plugin.get("core", []))]
    for name, info in state.registry.infos.items():
        if name in by_plugin:
            title = plugin_text(name, info.title)
            title = title if name in g.hcrm_live else _("%(title)s (not enabled)", title=title)
            groups.append((title, by_plugin[name]))
    chosen = request.args.get("permission", "")
    answer = error = None
    if chosen and chosen not in state.catalog.permissions:
        error = _("Unknown permission “%(name)s”.", name=chosen)
    elif chosen:
        live = g.hcrm_live
        answer = {"permission": chosen, "allowed": user.active and chosen in effective_permissions(user, live),
                  "reasons": explain(user, chosen, live)}
    return groups, chosen, answer, error


def _user_page(user: User, form=None, password_form=None, status: int = 200):
    if form is None:
        form = UserEditForm(obj=user)
        _user_choices(form, user)
        form.department.data = user.department_id or 0
        form.roles.data = [r.id for r in user.roles]
    groups, chosen, answer, error = _explanation(user)
    held_elsewhere = [r for r in user.roles if r.id not in dict(form.roles.choices)]
    return render_template(
        "admin/user_edit.html", user=user, form=form, password_form=password_form or ResetPasswordForm(),
        explain_groups=groups, explain_chosen=chosen, answer=answer, explain_error=error,
        held_elsewhere=held_elsewhere,
        may_manage=can("core.users.edit") and (current_user.is_group_admin or not user.is_group_admin),
    ), 400 if error and status == 200 else status


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@require("core.users.read")
def user_edit(user_id):
    user = tenancy.get_or_404(User, user_id)
    if request.method == "GET":
        return _user_page(user)
    if not can("core.users.edit"):
        abort(403, description=denied("core.users.edit"))
    form = UserEditForm()
    _user_choices(form, user)
    if form.validate_on_submit():
        try:
            svc.update_user(user, display_name=form.display_name.data, department_id=form.department.data or None,
                            role_ids=form.roles.data, active=form.active.data, actor=current_user,
                            is_group_admin=form.is_group_admin.data if "is_group_admin" in form else None)
        except svc.NotAllowed as exc:
            db.session.rollback()
            abort(403, description=exc.message)
        except svc.AdminError as exc:
            db.session.rollback()
            _form_error(form, exc)
        else:
            flash(_("User “%(name)s” saved.", name=user.username), "success")
            return redirect(url_for("admin.user_edit", user_id=user.id))
    return _user_page(user, form=form, status=400)


@bp.route("/users/<int:user_id>/password", methods=["POST"])
@require("core.users.edit")
def user_password(user_id):
    user = tenancy.get_or_404(User, user_id)
    password_form = ResetPasswordForm()
    if password_form.validate_on_submit():
        try:
            svc.reset_password(user, password_form.new_password.data, actor=current_user)
        except svc.NotAllowed as exc:
            db.session.rollback()
            abort(403, description=exc.message)
        except svc.AdminError as exc:
            db.session.rollback()
            _form_error(password_form, exc)
        else:
            flash(_("The password of “%(name)s” has been reset.", name=user.username), "success")
            return redirect(url_for("admin.user_edit", user_id=user.id))
    return _user_page(user, password_form=password_form, status=400)


# -- roles --------------------------------------------------------------------------------------
@bp.route("/roles")
@require("core.roles.read")
def roles():
    rows = db.session.execute(db.select(Role).order_by(Role.is_default.desc(), Role.id)).scalars().all()
    return render_template("admin/roles.html", roles=rows, counts=svc.role_user_counts(), scope_labels=SCOPE_LABELS)


def _role_page(role: Role | None, submitted: bool | None = None, status: int = 200):
    """The role editor; ``submitted`` False shows it without reading the posted form."""
    submitted = request.method == "POST" if submitted is None else submitted
    form = RoleForm(obj=role) if submitted else RoleForm(formdata=None, obj=role)
    if role is not None:
        del form.code
    choices = svc.scope_choices(current_user)
    if role is not None and role.data_scope not in choices:
        choices = choices + [role.data_scope]  # shown, but the service refuses to save it
    form.data_scope.choices = [(lv, SCOPE_LABELS[lv]) for lv in choices]
    groups = svc.permission_groups(g.hcrm_live)
    offered = {p.name for _plugin, _title, perms in groups for p in perms}
    checked = set(request.form.getlist("permissions")) if submitted else (role.permissions if role else set())
    kept = sorted(p for p in (role.permissions if role else ()) if p not in offered)
    if submitted:
        status = 400
        if not can("core.roles.edit"):
            abort(403, description=denied("core.roles.edit"))
        if form.validate_on_submit():
            try:
                if role is None:
                    saved = svc.create_role(code=form.code.data, name=form.name.data, data_scope=form.data_scope.data,
                                            permissions=checked, live=g.hcrm_live, actor=current_user)
                else:
                    saved = svc.update_role(role, name=form.name.data, data_scope=form.data_scope.data,
                                            permissions=checked, live=g.hcrm_live, actor=current_user)
            except svc.NotAllowed as exc:
                db.session.rollback()
                abort(403, description=exc.message)
            except svc.BadPermissions as exc:
                db.session.rollback()
                form.form_errors.append(exc.message)
                checked &= offered
            except svc.AdminError as exc:
                db.session.rollback()
                _form_error(form, exc)
            else:
                flash(_("Role “%(name)s” saved.", name=saved.name), "success")
                return redirect(url_for("admin.role_edit", role_id=saved.id))
    users = []
    if role is not None:
        users = db.session.execute(svc.user_select(role_id=role.id).limit(50)).scalars().all()
    return render_template("admin/role_form.html", form=form, role=role, groups=groups, checked=checked,
                           kept=kept, users=users, may_edit=can("core.roles.edit")), status


@bp.route("/roles/new", methods=["GET", "POST"])
@require("core.roles.edit")
def role_new():
    return _role_page(None)


@bp.route("/roles/<int:role_id>", methods=["GET", "POST"])
@require("core.roles.read")
def role_edit(role_id):
    return _role_page(tenancy.get_or_404(Role, role_id))


@bp.route("/roles/<int:role_id>/delete", methods=["POST"])
@require("core.roles.edit")
def role_delete(role_id):
    role = tenancy.get_or_404(Role, role_id)
    name = role.name
    try:
        svc.delete_role(role, actor=current_user)
    except svc.NotAllowed as exc:
        db.session.rollback()
        abort(403, description=exc.message)
    except svc.AdminError as exc:
        db.session.rollback()
        flash(exc.message, "danger")
        return _role_page(role, submitted=False, status=409)
    flash(_("Role “%(name)s” deleted.", name=name), "success")
    return redirect(url_for("admin.roles"))


# -- audit log ----------------------------------------------------------------------------------
AUDIT_ACTIONS = ("create", "update", "delete", "view", "login", "enable", "disable")


@bp.route("/audit")
@require("core.audit.read")
def audit():
    # A group administrator reads the hospital they work in, or on request the whole group, with
    # the group-level actions that belong to no hospital (creating one, their own sign-ins).
    with tenancy.group_wide_requested():
        return _audit_page()


def _audit_page():
    form = AuditFilterForm(request.args)
    page, status = None, 200
    if form.validate():
        filters = svc.AuditFilters(
            username=(form.user.data or "").strip(), model=(form.model.data or "").strip(),
            action=(form.action.data or "").strip(), record_id=(form.record_id.data or "").strip(),
            date_from=form.date_from.data, date_to=form.date_to.data)
        page = db.paginate(svc.audit_select(filters), page=request.args.get("page", 1, type=int),
                           per_page=AUDIT_PER_PAGE, error_out=False)
    else:
        status = 400
    hospitals = {}
    if tenancy.is_group_wide():
        with tenancy.system_scope():
            hospitals = dict(db.session.execute(db.select(Hospital.id, Hospital.code)).all())
    models = sorted(m.class_.__name__ for m in db.Model.registry.mappers) + ["Plugin"]
    return render_template("admin/audit.html", form=form, page=page, diff=svc.audit_diff, hospital_codes=hospitals,
                           models=sorted(set(models)), actions=AUDIT_ACTIONS), status
