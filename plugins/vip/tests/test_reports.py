"""The VIP reports: each renders, exports, counts only this hospital's rows."""
from core.extensions import db
from core.tenancy import hospital_scope
from core.testing import login
from plugins.vip import retier, value
from plugins.vip.tests.conftest import add_patient, hospital

REPORTS = ("vip.tiers", "vip.movement", "vip.value", "vip.segments", "vip.rfm", "vip.churn", "vip.plan_completion")


def test_reports_render_and_export_this_hospitals_figures(app, client, vip):
    with app.app_context():
        add_patient("A", "甲", visits=[(3, 25000)])
        add_patient("A", "乙", visits=[(300, 100)])
        add_patient("B", "外院", visits=[(3, 90000)])
        for code in ("A", "B"):
            hid = hospital(code).id
            with hospital_scope(hid):
                retier.apply(hid)
                value.rescore(hid)
                db.session.commit()
    login(client, "a_admin")
    for report_id in REPORTS:
        assert client.get(f"/reports/{report_id}").status_code == 200, report_id
        csv_text = client.get(f"/reports/{report_id}.csv").get_data().decode("utf-8-sig")
        assert "外院" not in csv_text, report_id
    tiers = client.get("/reports/vip.tiers.csv").get_data().decode("utf-8-sig")
    assert "金卡,1" in tiers and "钻石,0" in tiers
    movement = client.get("/reports/vip.movement.csv").get_data().decode("utf-8-sig")
    assert movement.count("\n") >= 2
    churn = client.get("/reports/vip.churn.csv").get_data().decode("utf-8-sig")
    assert "乙" in churn and "甲" not in churn
    assert client.get("/reports/vip.movement?since=not-a-date").status_code == 400
