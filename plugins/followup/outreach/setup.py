"""Default outreach data a hospital gets when it enables the plugin (idempotent), and moving a
merged duplicate's messages and surveys to the patient kept.

Texts are hospital data in the UI's default language (like the patients plugin's sources):
hospitals edit them in the phrase library, the SMS templates and the question bank.
"""
from __future__ import annotations

import sqlalchemy as sa

from core.extensions import db
from plugins.followup.merging import repoint_patient
from plugins.followup.models import (
    Category,
    Phrase,
    Question,
    Questionnaire,
    QuestionnaireItem,
    SmsMessage,
    SmsTemplate,
    SurveyResponse,
)

DEFAULT_TEMPLATES = (  # name, category code, body
    ("出院关怀", "post_discharge",
     "{name}{gender_title}您好,您已从{department}出院。请遵医嘱按时服药、注意休息,如有不适请及时与我们联系。"
     "祝您早日康复!"),
    ("复诊提醒", "revisit",
     "{name}{gender_title}您好,{department}提醒您于{due_date}{due_time}前来复诊,请携带病历和检查结果。"
     "如需改期请来电。"),
    ("生日祝福", "birthday", "{name}{gender_title},今天是您的生日,{hospital}全体医护人员祝您生日快乐、身体健康!"),
    ("满意度回访", "satisfaction",
     "{name}{gender_title}您好,感谢您选择{hospital}。近日我们将电话回访您对就医体验的评价,您的意见是我们改进的动力。"),
)
DEFAULT_PHRASES = (  # category code, text
    ("post_discharge", "您好,我是医院随访中心的工作人员,请问您出院后恢复得怎么样?"),
    ("post_discharge", "出院后有没有发热、疼痛、伤口红肿等不适?"),
    ("post_discharge", "是否按医嘱按时服药?用药后有没有不良反应?"),
    ("post_operative", "请注意伤口保持干燥清洁,按约定时间回院换药或拆线。"),
    ("chronic", "最近血压(血糖)控制得怎么样?是否按时监测并记录?"),
    ("chronic", "饮食宜清淡少盐,坚持适量运动,不要自行停药或改药。"),
    ("revisit", "提醒您按时复诊,复诊时请携带病历和近期检查结果。"),
    ("satisfaction", "请问您对这次就医的整体体验满意吗?有什么需要我们改进的地方?"),
)
QUESTIONNAIRE_NAME = "住院患者满意度调查"
DEFAULT_QUESTIONS = (  # text, kind, options, required
    ("医生的服务态度", "scale", None, True),
    ("护理服务", "scale", None, True),
    ("医院环境(整洁、安静、标识清楚)", "scale", None, True),
    ("等候时间", "scale", None, True),
    ("您是否愿意向亲友推荐我院?", "single", ["愿意", "不确定", "不愿意"], True),
    ("您的意见和建议", "text", None, False),
)
SCALE = (1, 5)


def _categories() -> dict[str, int]:
    return dict(db.session.execute(sa.select(Category.code, Category.id)).all())


def seed_defaults(hospital) -> None:
    """SMS templates, shared phrases and a satisfaction questionnaire; what the hospital has
    already (by name or text) is kept as it is."""
    categories = _categories()
    have = set(db.session.execute(sa.select(SmsTemplate.name)).scalars())
    db.session.add_all(SmsTemplate(hospital_id=hospital.id, name=name, body=body, category_id=categories.get(code))
                       for name, code, body in DEFAULT_TEMPLATES if name not in have)
    have = set(db.session.execute(sa.select(Phrase.text)).scalars())
    db.session.add_all(Phrase(hospital_id=hospital.id, text=text, category_id=categories.get(code), shared=True,
                              position=i) for i, (code, text) in enumerate(DEFAULT_PHRASES) if text not in have)
    if db.session.execute(sa.select(Questionnaire.id).where(Questionnaire.name == QUESTIONNAIRE_NAME)).first() is None:
        questionnaire = Questionnaire(hospital_id=hospital.id, name=QUESTIONNAIRE_NAME,
                                      description="出院或就诊后电话回访时询问,1 分最差,5 分最好。")
        for position, (text, kind, options, required) in enumerate(DEFAULT_QUESTIONS):
            question = Question(hospital_id=hospital.id, text=text, kind=kind, options=options,
                                scale_min=SCALE[0] if kind == "scale" else None,
                                scale_max=SCALE[1] if kind == "scale" else None)
            questionnaire.items.append(QuestionnaireItem(hospital_id=hospital.id, question=question,
                                                         position=position, required=required))
        db.session.add(questionnaire)
    db.session.flush()


def move_patient_rows(source, target) -> None:
    """A merged duplicate's SMS messages and survey responses now belong to the patient kept."""
    repoint_patient((SmsMessage, SurveyResponse), source, target)
