"""Demo articles (``hcrm init --demo``): a few dozen real-looking articles across the types, for
the demo departments (内科, 外科, 骨科, 妇产科, 儿科), most published, some in review or draft;
the ones marked ``group`` are written once for the whole group. Idempotent."""
from __future__ import annotations

import dataclasses

import sqlalchemy as sa

from core.extensions import db
from core.tenancy import current_scope, use_scope

from . import services
from .models import Article

# (group?, type, title, departments, ICD-10, tags, summary, paragraphs, SMS version, status)
ARTICLES = [
    (True, "postop", "股骨颈骨折术后康复指导", "骨科", "S72", "骨折,康复",
     "髋关节置换或内固定术后的分阶段康复要点。",
     ["## 术后第1-3天", "平卧,患肢外展中立位,两腿间放软枕。", "- 踝泵运动:每小时10-20次", "- 股四头肌等长收缩",
      "## 术后第2周", "在医护指导下扶助行器下地,患肢部分负重。", "## 注意事项", "避免患侧卧位、盘腿、坐矮凳;如伤口红肿渗液、患肢疼痛加剧请及时就诊。"],
     "【康复提醒】股骨颈骨折术后请坚持踝泵运动,避免盘腿和坐矮凳,两周后在指导下扶助行器下地。", "published"),
    (True, "postop", "腰椎间盘突出症术后护理", "骨科", "M51", "脊柱,康复",
     "腰椎术后卧床、翻身、佩戴腰围与功能锻炼。",
     ["## 卧床与翻身", "术后平卧4-6小时,之后轴线翻身,保持脊柱成一直线。", "## 功能锻炼", "- 直腿抬高练习", "- 术后2-3周开始五点支撑法",
      "## 出院后", "佩戴腰围下地3个月,避免弯腰搬重物。"],
     "【术后护理】腰椎术后请轴线翻身,下地佩戴腰围,3个月内避免弯腰搬重物。", "published"),
    (False, "postop", "阑尾炎术后饮食与活动", "外科", "K35", "阑尾炎,饮食",
     "阑尾切除术后何时进食、何时下床。",
     ["## 饮食", "排气后由流质(米汤)逐渐过渡到半流质、软食,忌辛辣油腻。", "## 活动", "术后6小时可在床上翻身,次日下床活动,预防肠粘连。",
      "## 伤口", "保持切口干燥,术后7天左右拆线。"],
     "【术后提醒】阑尾炎术后排气后再进流质,次日下床活动,伤口保持干燥,约7天拆线。", "published"),
    (False, "postop", "剖宫产术后护理要点", "妇产科", "O82", "产后,伤口",
     "剖宫产术后伤口、排尿、哺乳与活动。",
     ["## 伤口护理", "保持腹部切口清洁干燥,咳嗽时用手按压伤口两侧。", "## 早期活动", "术后24小时拔除尿管后尽早下床,预防血栓。",
      "## 哺乳", "采用侧卧或环抱式哺乳,减轻伤口压力。"],
     "【产后提醒】剖宫产术后尽早下床活动,咳嗽时按压伤口,哺乳可取侧卧位。", "published"),
    (True, "discharge", "高血压患者出院指导", "内科", "I10", "高血压,慢病",
     "出院后的血压监测、用药与生活方式。",
     ["## 血压监测", "每天早晚各测一次血压并记录,目标一般低于140/90 mmHg。", "## 用药", "按时服药,不可自行停药或减量。",
      "## 生活方式", "- 每日食盐不超过5克", "- 戒烟限酒", "- 每周5次、每次30分钟快走"],
     "【出院指导】请每天早晚测血压并记录,按时服药不擅自停药,每日食盐不超过5克。", "published"),
    (True, "discharge", "2型糖尿病出院指导", "内科", "E11", "糖尿病,慢病",
     "血糖监测、饮食控制、低血糖识别。",
     ["## 血糖监测", "空腹及三餐后2小时血糖,每周至少监测3天。", "## 饮食", "定时定量,主食粗细搭配,少吃甜食和油炸食品。",
      "## 低血糖", "出现心慌、出汗、手抖时立即进食15克糖(如半杯果汁),15分钟后复测。"],
     "【出院指导】请按时监测血糖,定时定量进餐;心慌出汗手抖可能是低血糖,立即进食糖果并复测。", "published"),
    (False, "discharge", "冠心病支架术后出院指导", "内科", "I25", "冠心病,支架",
     "双联抗血小板治疗与复诊。",
     ["## 抗血小板药物", "阿司匹林与氯吡格雷(或替格瑞洛)须按医嘱服用满疗程,切勿擅自停药。", "## 复诊", "术后1、3、6、12个月复诊。",
      "## 警惕", "胸痛持续超过15分钟不缓解,立即拨打120。"],
     "【出院指导】支架术后请坚持服用抗血小板药物,勿擅自停药;胸痛超过15分钟不缓解立即拨打120。", "published"),
    (False, "discharge", "新生儿出院护理指导", "儿科", "P07", "新生儿,喂养",
     "喂养、脐带护理、黄疸观察。",
     ["## 喂养", "按需哺乳,每天8-12次。", "## 脐带护理", "每天用75%酒精由内向外消毒脐部,保持干燥。",
      "## 黄疸", "皮肤发黄蔓延到手心脚心或精神差、吃奶少,请及时就诊。"],
     "【新生儿护理】按需哺乳,每天消毒脐部;黄疸蔓延至手脚心或吃奶差请及时就诊。", "published"),
    (True, "medication", "华法林用药指导", "内科,外科", "I48,I26", "抗凝,用药",
     "华法林的剂量、监测与饮食相互作用。",
     ["## 服药", "每天同一时间服用,漏服在当天想起时补服,次日不可加倍。", "## 监测", "定期检测INR,目标范围遵医嘱(一般2.0-3.0)。",
      "## 饮食", "保持绿叶蔬菜摄入量稳定,避免大量饮酒;服用新药前告知医生。", "## 出血", "牙龈出血、黑便、皮肤大片瘀斑请立即就诊。"],
     "【用药提醒】华法林请每天同一时间服用,定期查INR,出现黑便或牙龈出血请立即就诊。", "published"),
    (True, "medication", "胰岛素注射指导", "内科", "E10,E11", "糖尿病,用药",
     "注射部位轮换、储存与低血糖预防。",
     ["## 注射部位", "腹部、大腿外侧、上臂外侧轮换注射,同一部位间隔1厘米以上。", "## 储存", "未开封放冰箱2-8℃冷藏,开封后室温保存不超过28天。",
      "## 进餐", "速效胰岛素注射后15分钟内进餐。"],
     "【用药提醒】胰岛素请轮换注射部位,开封后室温保存不超过28天,注射后按时进餐。", "published"),
    (False, "medication", "阿司匹林肠溶片用药指导", "内科", "I25,I63", "抗血小板,用药",
     "服用时间与胃肠道不适。",
     ["阿司匹林肠溶片宜空腹或睡前整片吞服,不可掰开嚼碎。", "如有胃痛、黑便,请及时告知医生。"],
     "【用药提醒】阿司匹林肠溶片请整片吞服勿嚼碎,如有胃痛黑便请及时就医。", "published"),
    (False, "medication", "儿童退热药使用指导", "儿科", "R50", "发热,用药",
     "对乙酰氨基酚与布洛芬的用法。",
     ["体温超过38.5℃或明显不适时使用退热药。", "- 对乙酰氨基酚:间隔4-6小时,24小时不超过4次", "- 布洛芬:间隔6-8小时",
      "按体重计算剂量,不要两种药物交替使用,除非医生建议。"],
     "【用药提醒】孩子体温超过38.5℃可用退热药,按体重给药,两次间隔至少4-6小时。", "published"),
    (False, "medication", "术后镇痛药物注意事项", "外科,骨科", "", "镇痛,用药",
     "口服止痛药的用法与不良反应。",
     ["按医嘱规律服用,不要等到剧痛时才用药。", "可能出现便秘、恶心,多饮水、多吃蔬菜。"],
     "【用药提醒】术后止痛药请按时服用,注意多饮水预防便秘。", "review"),
    (True, "education", "如何预防老年人跌倒", "内科,骨科", "W19", "跌倒,老年",
     "居家环境改造与平衡锻炼。",
     ["## 居家环境", "- 卫生间加装扶手、铺防滑垫", "- 夜间保留小夜灯", "## 锻炼", "坚持太极拳、单脚站立等平衡训练。",
      "## 用药", "服用降压药、安眠药后起身要慢:平躺30秒、坐起30秒、站立30秒再行走。"],
     "【健康宣教】预防跌倒:卫生间装扶手、夜间留小夜灯,起床做到三个30秒。", "published"),
    (True, "education", "脑卒中早期识别:BE FAST", "内科", "I63,I64", "卒中,急救",
     "平衡、眼睛、面部、手臂、言语与时间。",
     ["**B**alance 平衡失调;**E**yes 视物模糊;**F**ace 口角歪斜;**A**rms 单侧手臂无力;**S**peech 言语不清;**T**ime 立即拨打120。",
      "发病4.5小时内是溶栓的黄金时间。"],
     "【健康宣教】突然口角歪斜、一侧手臂无力、说话不清,立即拨打120,时间就是大脑。", "published"),
    (False, "education", "骨质疏松的预防", "骨科,内科", "M81", "骨质疏松,老年",
     "补钙、维生素D与运动。",
     ["每天摄入奶制品300毫升以上,适量晒太阳。", "坚持负重运动,如快走、慢跑。", "戒烟限酒,少喝浓茶咖啡。"],
     "【健康宣教】预防骨质疏松:每天喝奶、多晒太阳、坚持快走,戒烟限酒。", "published"),
    (False, "education", "孕期营养与体重管理", "妇产科", "Z34", "孕期,营养",
     "孕期各阶段的营养重点。",
     ["孕早期补充叶酸,孕中晚期注意补铁补钙。", "孕期体重增长以11-16公斤为宜(孕前体重正常者)。"],
     "【孕期宣教】孕早期补叶酸,中晚期补铁补钙,控制体重合理增长。", "published"),
    (False, "education", "儿童手足口病的家庭护理", "儿科", "B08.4", "传染病,儿童",
     "隔离、口腔护理与就诊指征。",
     ["患儿居家隔离至症状消失后1周。", "饭前便后洗手,玩具餐具消毒。", "出现持续高热、精神差、肢体抖动,立即就诊。"],
     "【健康宣教】手足口病患儿需居家隔离,勤洗手;持续高热或精神差请立即就诊。", "published"),
    (False, "education", "慢阻肺患者呼吸功能锻炼", "内科", "J44", "慢阻肺,康复",
     "缩唇呼吸与腹式呼吸。",
     ["## 缩唇呼吸", "鼻子吸气2秒,嘴唇缩成吹口哨状缓慢呼气4-6秒。", "## 腹式呼吸", "吸气时腹部鼓起,呼气时腹部内收,每天2-3次,每次10-15分钟。"],
     "【康复宣教】慢阻肺患者请每天练习缩唇呼吸和腹式呼吸,每次10-15分钟。", "published"),
    (False, "education", "乳腺自我检查方法", "外科,妇产科", "N63", "乳腺,筛查",
     "每月一次的自我检查步骤。",
     ["月经结束后7-10天进行。", "- 对镜观察:有无凹陷、红肿", "- 触摸:以指腹按顺时针方向检查", "发现肿块请及时就诊。"],
     None, "draft"),
    (True, "sms", "复诊提醒短信", "", "", "复诊", "通用复诊提醒。", ["用于随访复诊提醒。"],
     "【复诊提醒】您好,请按预约时间来院复诊,携带病历及检查结果,如需改期请来电。", "published"),
    (True, "sms", "出院关怀短信", "", "", "出院", "出院后第3天的关怀短信。", ["用于出院关怀。"],
     "【出院关怀】您好,出院后请遵医嘱按时服药、注意休息,如有不适请及时与我们联系,祝您早日康复!", "published"),
    (False, "sms", "术后伤口观察短信", "外科,骨科", "", "伤口", "提醒观察伤口。", ["术后随访短信。"],
     "【术后提醒】请注意观察伤口,如有红肿、渗液、发热,请及时来院就诊。", "published"),
    (False, "sms", "疫苗接种提醒短信", "儿科", "Z23", "疫苗", "儿童疫苗接种提醒。", ["儿保随访。"],
     "【接种提醒】宝宝的疫苗接种时间快到了,请携带接种本按时前往接种门诊。", "published"),
    (True, "faq", "医保报销需要哪些材料?", "", "", "医保", "住院医保报销常见问题。",
     ["出院结算时携带身份证、医保卡即可直接结算。", "异地就医需提前办理备案,详情咨询医保办。"],
     "【常见问题】出院结算请携带身份证和医保卡,异地就医需提前备案。", "published"),
    (False, "faq", "如何查询检查检验报告?", "", "", "报告", "报告查询途径。",
     ["可通过医院公众号、自助机或门诊服务台查询打印。", "影像报告一般1-2个工作日出具。"],
     "【常见问题】检查报告可在公众号或自助机查询,影像报告一般1-2个工作日出具。", "published"),
    (False, "faq", "骨折术后多久可以拆除内固定?", "骨科", "S72,S82,S52", "骨折", "内固定取出时间。",
     ["一般在骨折愈合后1-2年,需复查X线确认愈合,由医生评估。", "老年人若无不适可不取出。"],
     "【常见问题】骨折内固定一般在愈合后1-2年取出,需复查X线由医生评估。", "published"),
    (False, "faq", "住院期间可以陪护几人?", "", "", "住院", "陪护规定。", ["每位患者限1名固定陪护,凭陪护证进出病区。"],
     "【常见问题】住院期间每位患者限1名固定陪护,凭陪护证进出病区。", "archived"),
]


def _html(lines: list[str]) -> str:
    """The demo's little markup (## heading, - item, **bold**) as the HTML an editor would save."""
    from markupsafe import escape
    out, items = [], []

    def close():
        if items:
            out.append("<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>")
            items.clear()
    for line in lines:
        text = str(escape(line)).replace("**", "")
        if line.startswith("## "):
            close()
            out.append(f"<h2>{text[3:]}</h2>")
        elif line.startswith("- "):
            items.append(text[2:])
        else:
            close()
            out.append(f"<p>{text}</p>")
    close()
    return "".join(out)


def demo_data(hospital) -> None:
    scope = current_scope()
    have_group = db.session.execute(sa.select(Article.id).where(Article.hospital_id.is_(None)).limit(1)).first()
    have_own = db.session.execute(sa.select(Article.id).where(Article.hospital_id == hospital.id).limit(1)).first()
    for group, type_code, title, departments, codes, tags, summary, lines, sms_text, status in ARTICLES:
        if (group and have_group) or (not group and have_own):
            continue
        # group rows are seeded as a group-level editor would write them
        with use_scope(dataclasses.replace(scope, group_writer=True) if group else scope):
            article = services.save_article(None, {
                "type_code": type_code, "title": title, "summary": summary, "body": _html(lines), "sms_text": sms_text,
                "departments": departments, "icd_codes": codes, "tags": tags}, group=group)
            article.author_name = "知识库管理员"
            if status in ("review", "published", "archived"):
                services.transition(article, "submit" if status == "review" else "publish")
                article.reviewer_name = "护理部" if status != "review" else None
            if status == "archived":
                services.transition(article, "archive")
            db.session.flush()
