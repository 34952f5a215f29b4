"""Demonstration patients for ``hcrm init --demo``: a few hundred realistic patients of Yueyang
(Hunan) with visits over the last 18 months, reproducible per hospital code.

Rows are bulk-inserted (a few thousand of them, in about a second) with their pinyin search keys,
so the demo behaves like real data in search, reports and the dashboard. Bulk inserts skip the
domain events: other plugins' demo loaders seed their own data from these patients.
"""
from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from core.clock import local_now, local_to_utc
from core.extensions import db
from core.models import Department, User
from plugins.patients import services
from plugins.patients.identity import ID_CHECK, ID_WEIGHTS, last4
from plugins.patients.models import (
    Diagnosis,
    Disease,
    HealthRecord,
    Patient,
    Referrer,
    Region,
    Source,
    Visit,
    patient_tags,
)
from plugins.patients.search_index import index_patients
from plugins.patients.setup import seed_defaults

PATIENTS = 300
ENOUGH = 100  # a hospital with this many patients already has data: load nothing
HISTORY_DAYS = 548  # 18 months

SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任"
            "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
MALE_NAMES = ["伟", "强", "磊", "军", "勇", "杰", "涛", "斌", "超", "明", "刚", "平", "辉", "鹏", "华", "飞", "鑫", "波", "宇", "浩", "凯", "健", "俊", "帆", "旭", "宁", "龙", "林", "志强", "建国", "建华", "国强", "志明", "海涛", "文博", "子轩", "浩然", "宇航", "俊杰", "家豪", "天佑", "明轩", "德华", "春生", "永红", "卫东", "立新", "振华"]
FEMALE_NAMES = ["芳", "娜", "敏", "静", "丽", "艳", "娟", "霞", "婷", "雪", "琳", "颖", "倩", "洁", "晶", "慧", "佳", "欣", "梅", "兰", "红", "燕", "萍", "丹", "秀英", "桂英", "玉兰", "秀兰", "美玲", "丽华", "雨涵", "欣怡", "梓涵", "诗琪", "思琪", "子涵", "晓燕", "春梅", "凤英", "淑珍", "海燕", "小红", "金凤", "雅琴"]
#: County → (ID number region code, towns / street offices): the counties of seed 000.
COUNTIES = {
    "岳阳县": ("430621", ("荣家湾镇", "黄沙街镇", "新墙镇", "筻口镇")),
    "华容县": ("430623", ("章华镇", "治河渡镇", "三封寺镇", "万庾镇")),
    "湘阴县": ("430624", ("文星镇", "南湖洲镇", "东塘镇", "鹤龙湖镇")),
    "平江县": ("430626", ("汉昌镇", "安定镇", "三市镇", "加义镇")),
}
ROADS = ("建设路", "人民路", "解放路", "新华街", "和平路", "东风路", "朝阳路", "幸福村", "长江村", "白石村", "青山组", "团结村")
MOBILE_PREFIXES = ["130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "153", "155", "156", "157", "158", "159", "166", "173", "177", "180", "181", "182", "183", "185", "186", "187", "188", "189", "199"]
OCCUPATIONS = ("农民", "教师", "个体经营", "公务员", "工人", "医务人员", "司机", "自由职业", "企业职员", "务工")
#: Department code → (ages, female share, inpatient share, ICD-10 codes seen there).
PROFILES = {
    "IM": ((35, 88), 0.5, 0.15, ("I10", "E11.9", "E78.5", "J18.9", "J20.9", "K29.7", "K25.9", "I25.1", "I48",
                                  "J44.9", "N39.0", "G47.0", "I63.9")),
    "SURG": ((18, 82), 0.45, 0.25, ("K35.8", "K40.9", "K80.2", "K81.1", "I83.9", "N20.0", "C16.9", "C18.9",
                                    "T14.0", "K85.9")),
    "ORTH": ((20, 86), 0.5, 0.2, ("M51.2", "M17.9", "M54.5", "M81.9", "S52.5", "S72.0", "S82.8", "M47.8",
                                  "M10.9", "M19.9")),
    "OBGYN": ((20, 50), 1.0, 0.15, ("N76.0", "N73.9", "D25.9", "Z34.9", "O80.9", "O82.9", "N92.0", "N61",
                                    "N97.9", "N70.9")),
    "PED": ((0, 14), 0.45, 0.08, ("J06.9", "J00", "J02.9", "J03.9", "J18.9", "A09.9", "R50.9", "L20.9", "J45.9",
                                  "J20.9")),
}
DEPARTMENT_WEIGHTS = {"IM": 35, "SURG": 18, "ORTH": 20, "OBGYN": 15, "PED": 12}
EMERGENCY_CODES = ("R50.9", "R51", "S06.0", "I21.9", "K35.8", "J18.9", "T14.0", "I61.9")
EMERGENCY_CODES_CHILD = ("R50.9", "S06.0", "J18.9", "T14.0", "A09.9")
SOURCE_WEIGHTS = {"walk_in": 35, "online": 20, "phone": 15, "staff": 15, "referral": 15}
PLANS = {
    "outpatient": ("口服药物治疗，两周后复诊", "门诊随访，调整用药", "完善检查后复诊", "理疗及康复指导", "健康宣教，定期复查"),
    "inpatient": ("住院手术治疗", "住院保守治疗，抗感染及对症支持", "手术后康复训练", "住院观察，完善相关检查"),
    "emergency": ("急诊对症处理后留观", "急诊处理后转门诊随访", "急诊处理后收入院"),
}
ORDERS = ("低盐低脂饮食", "按时服药", "一周后复查", "避免剧烈运动", "多饮水，注意休息", "戒烟限酒", "监测血压血糖")
ALLERGIES = ("青霉素过敏", "磺胺类药物过敏", "海鲜过敏", "头孢类过敏", None, None, None)
PAST = ("高血压病史5年", "2型糖尿病病史3年", "阑尾切除术后", "慢性胃炎", "乙肝病毒携带", None, None)
FAMILY = ("父亲高血压", "母亲糖尿病", "无特殊家族史", "父亲冠心病", None)
NOTES = ("行动不便，需家属陪同", "听力较差，请大声沟通", "要求短信联系", "工作日白天不便接听电话")
REFERRERS = (("刘建军", "staff"), ("陈丽", "staff"), ("周海涛", "staff"), ("岳阳县人民医院 何医生", "external"),
             ("华容县中医院 罗医生", "external"), ("新墙镇卫生院 汤医生", "external"))
TAGS = ("高血压", "糖尿病", "孕产妇", "术后", "VIP候选")


def id_number(region_code: str, birth: date, male: bool, rng: random.Random) -> str:
    """A valid resident ID number: region, birth date, sequence (odd for men), check digit."""
    sequence = rng.randrange(0, 100) * 10 + rng.choice((1, 3, 5, 7, 9) if male else (0, 2, 4, 6, 8))
    first17 = f"{region_code}{birth:%Y%m%d}{sequence:03d}"
    return first17 + ID_CHECK[sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def _unique(make, taken: set):
    while True:
        value = make()
        if value not in taken:
            taken.add(value)
            return value


def _regions(hospital) -> dict[str, list[Region]]:
    """The seed's counties with their towns (created when missing): county name → towns."""
    existing = {(r.parent_id, r.name): r for r in db.session.execute(sa.select(Region)).scalars()}
    towns = {}
    for county_name, (_code, town_names) in COUNTIES.items():
        county = existing.get((None, county_name))
        if county is None:
            county = Region(hospital_id=hospital.id, name=county_name)
            db.session.add(county)
            db.session.flush()
        towns[county_name] = []
        for name in town_names:
            town = existing.get((county.id, name))
            if town is None:
                town = Region(hospital_id=hospital.id, name=name, parent_id=county.id)
                db.session.add(town)
            towns[county_name].append(town)
    db.session.flush()
    return towns


def _referrers(hospital, users: list[User]) -> list[Referrer]:
    found = db.session.execute(sa.select(Referrer).where(Referrer.active.is_(True))).scalars().all()
    if found:
        return found
    rng = random.Random(f"hcrm-demo-referrers-{hospital.code}")
    made = []
    for i, (name, kind) in enumerate(REFERRERS):
        user = users[i % len(users)] if kind == "staff" and users else None
        made.append(Referrer(hospital_id=hospital.id, name=name, user_id=user.id if user else None,
                             phone=f"{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10**8):08d}",
                             notes="本院员工" if kind == "staff" else "外院转诊"))
    db.session.add_all(made)
    db.session.flush()
    return made


def _weighted(rng: random.Random, weights: dict, items: list):
    return rng.choices(items, weights=[weights.get(getattr(i, "code", i), 10) for i in items])[0]


def _person(rng, profile_code, region_code, phones, ids, today):
    ages, female_share, *_rest = PROFILES.get(profile_code, PROFILES["IM"])
    male = rng.random() >= female_share
    age = rng.randint(*ages)
    birth = today - timedelta(days=age * 365 + rng.randrange(365))
    given = rng.choice(MALE_NAMES if male else FEMALE_NAMES)
    return dict(
        name=rng.choice(SURNAMES) + given, gender="M" if male else "F", birth_date=birth,
        id_number=_unique(lambda: id_number(region_code, birth, male, rng), ids) if rng.random() < 0.9 else None,
        phone=_unique(lambda: f"{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10**8):08d}", phones),
        age=age)


def _fits(code: str, patient: dict) -> bool:
    """Whether a patient may be seen in this department: children in paediatrics only, and
    obstetrics-gynaecology for women of child-bearing age."""
    if patient["age"] < 15:
        return code == "PED"
    if code == "OBGYN":
        return patient["gender"] == "F" and patient["age"] <= 55
    return code != "PED"


def _visits(rng, patient: dict, departments: dict, diseases: dict, now: datetime, count=None) -> list[dict]:
    """1–5 visits from the patient's first one until now, mostly in their own department."""
    home = patient["profile"]
    count = count or rng.choices((1, 2, 3, 4, 5), weights=(35, 25, 20, 12, 8))[0]
    times = [patient["first_visit"]]
    for _ in range(count - 1):  # return visits weeks to months apart, none in the future
        following = times[-1] + timedelta(days=rng.randint(7, 150), hours=rng.randint(-3, 3))
        if following >= now:
            break
        times.append(following)
    visits = []
    for at in times:
        roll = rng.random()
        inpatient_share = PROFILES.get(home, PROFILES["IM"])[2]
        kind = "inpatient" if roll < inpatient_share else ("emergency" if roll < inpatient_share + 0.08 else "outpatient")
        others = [c for c in departments if _fits(c, patient)]
        code = home if rng.random() < 0.85 or not others else rng.choice(others)
        emergency = EMERGENCY_CODES_CHILD if patient["age"] < 15 else EMERGENCY_CODES
        pool = [c for c in (emergency if kind == "emergency" else PROFILES.get(code, PROFILES["IM"])[3])
                if c in diseases] or list(diseases)[:1]
        codes = rng.sample(pool, k=min(len(pool), rng.choice((1, 1, 1, 2))))
        discharge, status = None, "completed"
        if kind == "inpatient":
            discharge = at + timedelta(days=rng.randint(3, 14), hours=rng.randint(0, 8))
            discharge, status = (None, "admitted") if discharge > now else (discharge, "discharged")
            spending = rng.triangular(3000, 60000, 12000)
        elif kind == "emergency":
            spending = rng.triangular(200, 3000, 600)
        else:
            spending = 0 if rng.random() < 0.06 else rng.triangular(50, 800, 180)
        visits.append(dict(
            kind=kind, status=status, visit_at=at, discharge_at=discharge,
            department_id=departments[code].id if code in departments else None,
            doctor_name=rng.choice(patient["doctors"][code]) if code in departments else None,
            treatment_plan=rng.choice(PLANS[kind]), orders="；".join(rng.sample(ORDERS, 2)),
            spending=Decimal(str(round(spending, 2))), codes=codes))
    return visits


def _tags_for(patient: dict, visits: list[dict]) -> set[str]:
    codes = {c for v in visits for c in v["codes"]}
    tags = set()
    if "I10" in codes:
        tags.add("高血压")
    if "E11.9" in codes:
        tags.add("糖尿病")
    if codes & {"Z34.9", "O80.9", "O82.9"}:
        tags.add("孕产妇")
    if patient["profile"] in ("SURG", "ORTH") and any(v["kind"] == "inpatient" and v["discharge_at"] for v in visits):
        tags.add("术后")
    if sum(v["spending"] for v in visits) > 30000:
        tags.add("VIP候选")
    return tags


def load(hospital) -> None:
    """Load the demo patients into ``hospital`` (inside its scope); nothing when it has data."""
    have = db.session.execute(sa.select(sa.func.count(Patient.id))).scalar_one()
    if have >= ENOUGH:
        return
    rng = random.Random(f"hcrm-demo-{hospital.code}")
    now = local_now()
    today = now.date()
    if not db.session.execute(sa.select(Source.id).limit(1)).first():
        seed_defaults(hospital)
    sources = db.session.execute(sa.select(Source).where(Source.active.is_(True)).order_by(Source.position)).scalars().all()
    users = db.session.execute(sa.select(User).where(User.active.is_(True)).order_by(User.id)).scalars().all()
    referrers = _referrers(hospital, users)
    towns = _regions(hospital)
    by_code = {d.code: d for d in db.session.execute(sa.select(Department)).scalars()}
    departments = {code: by_code[code] for code in PROFILES if code in by_code}
    diseases = {d.code: d for d in db.session.execute(sa.select(Disease).where(Disease.active.is_(True))).scalars()}
    tags = {t.name: t for t in services.tags_named(TAGS)}
    db.session.flush()
    doctors = {code: [rng.choice(SURNAMES) + rng.choice(MALE_NAMES + FEMALE_NAMES) for _ in range(3)]
               for code in departments}
    phones = set(db.session.execute(sa.select(Patient.phone).where(Patient.phone.is_not(None))).scalars())
    ids = set(db.session.execute(sa.select(Patient.id_number).where(Patient.id_number.is_not(None))).scalars())
    codes = list(departments) or ["IM"]

    people = []
    for i in range(PATIENTS):
        profile = rng.choices(codes, weights=[DEPARTMENT_WEIGHTS.get(c, 10) for c in codes])[0]
        county = rng.choice(list(COUNTIES))
        person = _person(rng, profile, COUNTIES[county][0], phones, ids, today)
        town = rng.choice(towns[county])
        source = _weighted(rng, SOURCE_WEIGHTS, sources) if sources else None
        if i >= PATIENTS - 5:  # a few new patients seen today, so the dashboard card has figures
            midnight = datetime.combine(today, datetime.min.time())
            first = midnight + timedelta(seconds=rng.randrange(max(1, int((now - midnight).total_seconds()))))
        else:
            first = now - timedelta(days=rng.randint(1, HISTORY_DAYS), hours=rng.randint(0, 9),
                                    minutes=rng.randint(0, 59))
        person.update(profile=profile, first_visit=first, doctors=doctors)
        visits = _visits(rng, person, departments, diseases, now, count=1 if i >= PATIENTS - 5 else None)
        adult = person["age"] >= 18
        person["row"] = dict(
            hospital_id=hospital.id, name=person["name"], gender=person["gender"], birth_date=person["birth_date"],
            id_number=person["id_number"], phone=person["phone"], phone_last4=last4(person["phone"]), phone2=None,
            insurance_no=f"HN{rng.randrange(10**11, 10**12)}" if rng.random() < 0.65 else None,
            region_id=town.id, address=f"{county}{town.name}{rng.choice(ROADS)}{rng.randint(1, 199)}号",
            occupation=(rng.choice(OCCUPATIONS) if person["age"] < 60 else rng.choice(("退休", "农民"))) if adult
            else ("学生" if person["age"] >= 6 else "学龄前儿童"),
            source_id=source.id if source else None,
            referrer_id=rng.choice(referrers).id if source and source.code in ("staff", "referral") and referrers
            and rng.random() < 0.8 else None,
            owner_id=rng.choice(users).id if users else None,
            department_id=departments[profile].id if profile in departments else None,
            key_patient=bool(sum(v["spending"] for v in visits) > 50000 or (person["age"] >= 75 and len(visits) >= 3)
                             or rng.random() < 0.03),
            notes=rng.choice(NOTES) if rng.random() < 0.1 else None, external_id=None, merged_into_id=None,
            # registered shortly before the first visit; bookkeeping stamps are UTC (core.clock)
            created_at=local_to_utc(first - timedelta(minutes=rng.randint(5, 90))), updated_at=local_to_utc(first))
        person["visits"] = visits
        people.append(person)

    rows = [p["row"] for p in people]
    patient_ids = db.session.execute(sa.insert(Patient).returning(Patient.id, sort_by_parameter_order=True),
                                     rows).scalars().all()
    index_patients(db.session.connection(), patient_ids)
    visit_rows, visit_codes, tag_rows, records = [], [], [], []
    for pid, person in zip(patient_ids, people, strict=True):
        for visit in person["visits"]:
            visit_codes.append(visit["codes"])
            visit_rows.append({**{k: v for k, v in visit.items() if k != "codes"}, "hospital_id": hospital.id,
                               "patient_id": pid, "owner_id": person["row"]["owner_id"], "doctor_id": None,
                               "external_id": None, "created_at": local_to_utc(visit["visit_at"])})
        tag_rows += [{"patient_id": pid, "tag_id": tags[name].id} for name in sorted(_tags_for(person, person["visits"]))]
        if rng.random() < 0.4:
            records.append(dict(hospital_id=hospital.id, patient_id=pid, allergies=rng.choice(ALLERGIES),
                                past_history=rng.choice(PAST), family_history=rng.choice(FAMILY),
                                smoking=rng.choice(("不吸烟", "已戒烟", "每日10支", "每日20支")),
                                drinking=rng.choice(("不饮酒", "偶尔饮酒", "每日饮酒")),
                                diet=rng.choice(("清淡", "偏咸", "喜辛辣", "低盐低脂")),
                                exercise=rng.choice(("每日散步", "很少运动", "每周跑步三次", "广场舞")),
                                updated_at=local_to_utc(now)))
    visit_ids = db.session.execute(sa.insert(Visit).returning(Visit.id, sort_by_parameter_order=True),
                                   visit_rows).scalars().all() if visit_rows else []
    diagnoses = [dict(hospital_id=hospital.id, visit_id=vid, disease_id=diseases[c].id, code=c,
                      name=diseases[c].name, position=pos, patient_id=row["patient_id"], visit_at=row["visit_at"])
                 for vid, row, codes_of_visit in zip(visit_ids, visit_rows, visit_codes, strict=True)
                 for pos, c in enumerate(codes_of_visit)]
    for table_rows, target in ((diagnoses, Diagnosis), (records, HealthRecord), (tag_rows, patient_tags)):
        if table_rows:
            db.session.execute(sa.insert(target), table_rows)
    db.session.commit()
