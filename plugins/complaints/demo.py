"""Demo complaints for ``hcrm init --demo``: a complaint office clerk, and a few dozen realistic
complaints over the last four months across channels, categories and every state — some
overdue, some settled on the spot, closed ones with findings, actions and rewards/penalties.
Idempotent: nothing when the hospital has complaints already."""
from __future__ import annotations

import random
from datetime import timedelta

import sqlalchemy as sa

from core.clock import local_now, local_to_utc
from core.demo import DEMO_PASSWORD
from core.extensions import db
from core.models import Department, Role, User, utcnow

from . import services
from .models import Complaint, ComplaintCategory, ComplaintChannel, ImprovementAction, Sanction
from .setup import OFFICE_ROLE, seed_defaults

COMPLAINTS = 36
STAGES = (5, 5, 4, 3, 5, 2, 1, 5, 0, 5, 4, 3)  # workflow steps taken: 5 = closed
STORIES = (  # category code, severity, description, reply
    ("attitude", "normal", "护士在输液时态度生硬,询问用药情况时不耐烦。", "已向患者致歉,护士长对当事护士进行了批评教育。"),
    ("waiting", "low", "门诊候诊时间超过两个小时,叫号系统多次跳号。", "已调整叫号规则并增加高峰时段出诊医生。"),
    ("fees", "normal", "出院结算时发现重复收取检查费。", "核实后退还重复收取的费用,并向患者说明。"),
    ("medical_quality", "high", "术后伤口感染,认为术前告知不充分。", "组织专家讨论,向家属详细解释治疗经过并调整治疗方案。"),
    ("environment", "low", "病区卫生间长期有异味,夜间走廊噪音大。", "后勤已完成排风维修,夜间巡视加强管理。"),
    ("ethics", "high", "反映医生暗示收取红包。", "纪检部门已介入调查,结果已反馈投诉人。"),
    ("nursing", "normal", "夜间呼叫铃响后长时间无人应答。", "护理部已调整夜班人力并对相关人员进行培训。"),
    ("suggestion", "low", "建议增加住院部停车位和指示牌。", "已转后勤部门研究,先行增设指示牌。"),
    ("praise", "low", "感谢骨科医护人员的细心照顾,特送表扬信。", "已转达科室并通报表扬。"),
    ("attitude", "normal", "挂号窗口工作人员推诿,让患者多次往返。", "已约谈当事人,完善首问负责制。"),
)
SETTLED = ("当场向患者解释并致歉,患者表示理解。", "现场协调优先安排检查,患者满意。")
NAMES = ("王女士", "李先生", "张阿姨", "刘先生", "陈女士", "杨大爷", "赵先生", "黄女士")


def _clerk(hospital) -> User | None:
    role = db.session.execute(sa.select(Role).where(Role.code == OFFICE_ROLE)).scalar_one_or_none()
    if role is None:
        return None
    username = f"{hospital.code.lower()}_complaints"
    from core.tenancy import system_scope
    with system_scope():
        existing = db.session.execute(sa.select(User).where(User.username == username)).scalar_one_or_none()
    if existing is not None:
        return existing if existing.hospital_id == hospital.id else None
    user = User(hospital_id=hospital.id, username=username, display_name=f"投诉办（{hospital.name}）", roles=[role])
    user.set_password(DEMO_PASSWORD)
    db.session.add(user)
    db.session.flush()
    return user


def load(hospital) -> None:
    if db.session.execute(sa.select(Complaint.id).limit(1)).first() is not None:
        return
    seed_defaults(hospital)
    db.session.flush()
    rng = random.Random(f"hcrm-complaints-{hospital.code}")
    clerk = _clerk(hospital)
    channels = {c.code: c.id for c in db.session.execute(sa.select(ComplaintChannel)).scalars()}
    categories = {c.code: c.id for c in db.session.execute(sa.select(ComplaintCategory)).scalars()}
    departments = db.session.execute(sa.select(Department).where(Department.active.is_(True))).scalars().all()
    users = db.session.execute(sa.select(User).where(User.active.is_(True)).order_by(User.id)).scalars().all()
    staff_users = [u for u in users if u.department_id] or users
    try:
        from plugins.patients.public import Patient
        patients = db.session.execute(sa.select(Patient.id).where(Patient.merged_into_id.is_(None))
                                      .order_by(Patient.id).limit(200)).scalars().all()
    except Exception:  # pragma: no cover - patients is a dependency, its tables exist
        patients = []
    now = local_now()
    channel_codes = [c for c in ("phone", "on_site", "letter", "web", "wechat", "hotline_12345", "sms") if c in channels]
    for i in range(COMPLAINTS):
        category, severity, description, reply = STORIES[i % len(STORIES)]
        if category not in categories:
            continue
        # Closed ones spread over four months; open ones mostly recent, a few past their deadline.
        still_open = STAGES[i % len(STAGES)] < 5
        received = now - timedelta(days=rng.randint(0, 14 if still_open and i % 4 else 120),
                                   hours=rng.randint(0, 8), minutes=rng.randint(0, 59))
        department = rng.choice(departments) if departments else None
        involved = [u for u in staff_users if department and u.department_id == department.id] or staff_users
        settle = i % 9 == 4
        data = {"channel_id": channels[rng.choice(channel_codes)], "category_id": categories[category],
                "severity": severity, "description": description, "department_id": department.id if department else None,
                "event_date": (received - timedelta(days=rng.randint(0, 3))).date().isoformat(),
                "contact_phone": f"13{rng.randint(100000000, 999999999)}",
                "staff_ids": [rng.choice(involved).id] if involved and i % 3 else [],
                "staff_names": ["值班护士"] if i % 3 == 0 else [],
                "settled_on_spot": settle, "resolution": rng.choice(SETTLED) if settle else None}
        if patients and i % 2 == 0:
            data["patient_id"] = rng.choice(patients)
        elif i % 7 == 3:
            data["anonymous"] = True
        else:
            data["complainant_name"] = rng.choice(NAMES)
        complaint = services.create_complaint(data, user_id=clerk.id if clerk else None)
        complaint.received_at = local_to_utc(received)
        complaint.owner_id = clerk.id if clerk else None
        for row in complaint.transitions:
            row.at = complaint.received_at
        complaint.due_date = services.compute_due_date(complaint)
        if settle:
            complaint.closed_at = complaint.received_at
            continue
        age = (now - received).days
        # Most are closed; the others wait at every step (some past their deadline); the
        # newest have not gone far yet.
        stage = STAGES[i % len(STAGES)] if age > 2 else min(1, STAGES[i % len(STAGES)])
        handler = rng.choice(users)
        steps = [("accept", {}),
                 ("assign", {"handler_id": handler.id,
                             "department_ids": [d.id for d in rng.sample(departments, min(len(departments),
                                                                                          1 + (i % 4 == 0)))]}),
                 ("investigate", {}), ("reply", {"reply_text": reply, "reply_method": rng.choice(
                     ("phone", "in_person", "letter"))}),
                 ("close", {"finding": ("justified", "partly", "unjustified")[i % 3] if category not in
                            ("suggestion", "praise") else None, "root_cause": "流程与沟通问题" if i % 3 == 0 else None})]
        when = received
        for action, step_data in steps[:stage]:
            when = min(now, when + timedelta(days=rng.randint(0, 3), hours=rng.randint(1, 6)))
            services.transition(complaint, action, step_data, trusted=True)
            complaint.transitions[-1].at = local_to_utc(when)
            if action == "reply":
                services.mark_answered(complaint, local_to_utc(when))
            elif action == "close":
                complaint.closed_at = local_to_utc(when)
        if complaint.status == "closed" and complaint.finding == "justified":
            complaint.actions.append(ImprovementAction(description="科室组织学习投诉案例,完善沟通流程",
                                                       owner_user_id=handler.id,
                                                       due_date=(when + timedelta(days=14)).date(),
                                                       done_at=utcnow() if i % 2 else None))
            person = next((s.user for s in complaint.staff if s.user_id), None)
            if person is not None:
                db.session.add(Sanction(user_id=person.id, department_id=person.department_id, kind="deduction",
                                        points=2, amount=100, reason=f"投诉 {complaint.reference} 属实", complaint=complaint,
                                        state="approved" if i % 2 else "proposed",
                                        proposed_by_id=clerk.id if clerk else None))
        if category == "praise" and complaint.staff and complaint.staff[0].user_id:
            person = complaint.staff[0].user
            db.session.add(Sanction(user_id=person.id, department_id=person.department_id, kind="praise",
                                    reason="患者表扬信", complaint=complaint, state="approved",
                                    proposed_by_id=clerk.id if clerk else None))
    db.session.flush()
