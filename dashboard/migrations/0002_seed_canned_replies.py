"""Seed canned replies (话术), one per situation of RULEBOOK §10, each in the order
安抚-查明原因-表明立场-全力解决-真诚道歉-感谢理解. Supervisors edit them afterwards."""

from django.db import migrations

REPLIES = [
    (
        "logistics_delay",
        "物流延误 · 安抚与催件",
        "亲,非常理解您等待包裹的心情,让您久等了。我们已查询到您的包裹目前停留在中转站,原因是快递公司运力紧张。"
        "按照平台规则,商品须按约定时间送达,我们会站在您这一边跟进处理。我们已联系快递加急派送,并会在24小时内把最新进度告诉您。"
        "给您带来不便,真诚向您道歉。感谢您的耐心与理解!",
    ),
    (
        "lost_parcel",
        "包裹丢失 · 登记报损",
        "亲,包裹迟迟未到一定让您很着急,请先别担心。经核实,物流信息已多日未更新,快递公司确认包裹在运输途中丢失。"
        "商品未送达的损失不应由您承担。我们已为您登记报损,并督促卖家为您补发或全额退款,您可以选择更方便的方式。"
        "这次的经历给您添麻烦了,非常抱歉。感谢您的理解与配合!",
    ),
    (
        "quality",
        "质量问题 · 请提供照片",
        "亲,收到的商品有问题确实让人失望,您的心情我们完全理解。为了尽快查明原因,麻烦您拍摄商品问题部位的清晰照片上传到本案件。"
        "若确属商品质量问题,退货运费将由卖家承担,平台会依规保障您的权益。收到照片后我们会第一时间核实并推进退款或换货。"
        "给您带来不好的购物体验,真诚地向您道歉。感谢您的理解和支持!",
    ),
    (
        "damage",
        "商品破损 · 运输损坏",
        "亲,看到商品破损我们也很心疼,请您先放心,我们一定会帮您处理好。请提供外包装和破损处的照片,以便判断是运输途中还是出库前造成的损坏。"
        "无论原因如何,破损商品都不应由您承担损失。确认后我们会安排补发或退款,运输责任由我们向快递公司追偿。"
        "给您添麻烦了,非常抱歉。感谢您的耐心配合!",
    ),
    (
        "attitude",
        "服务态度 · 致歉",
        "亲,非常抱歉让您有了不愉快的沟通体验,您反映的问题我们高度重视。我们正在调取聊天记录,核实当时的沟通情况。"
        "平台要求每一位服务人员礼貌、耐心地对待顾客,任何不当言行都不被允许。核实后我们会依规处理,并由专人继续为您跟进原来的问题。"
        "再次向您诚恳道歉。感谢您的宝贵反馈,帮助我们做得更好!",
    ),
    (
        "slow_response",
        "回复不及时 · 跟进",
        "亲,让您等了这么久才收到回复,真的很抱歉,您的着急我们能理解。经查,近期咨询量较大导致回复延迟。"
        "及时回应是我们对您的承诺,这次没有做到是我们的不足。现在已由我专门负责您的问题,会在今天内给您明确的处理结果。"
        "再次为耽误您的时间致歉。感谢您的耐心等待!",
    ),
]


def seed(apps, schema_editor):
    CannedReply = apps.get_model("dashboard", "CannedReply")
    for position, (situation, title, body) in enumerate(REPLIES):
        CannedReply.objects.get_or_create(situation=situation, title=title, defaults={"body": body, "position": position})


def unseed(apps, schema_editor):
    CannedReply = apps.get_model("dashboard", "CannedReply")
    CannedReply.objects.filter(title__in=[t for _, t, _ in REPLIES]).delete()


class Migration(migrations.Migration):
    dependencies = [("dashboard", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
