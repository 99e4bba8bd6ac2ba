"""The default first-talk e-mail template (zh), editable by managers and administrators."""

from typing import Any

from django.db import migrations

NAME = "首次沟通跟进邮件"
SUBJECT = "{customer_name}：感谢您的时间，以及下次会面的建议"
BODY = """{salutation}您好：

感谢您今天抽出时间与我沟通。根据我们的交流，我对贵司的需求理解如下：

{need_summary}

为进一步讨论解决方案，我建议下次会面安排在：{next_meeting}。如时间不便，请告诉我您方便的时间，我来重新安排。

如有任何问题，欢迎随时与我联系。

{owner_name}
电话：{owner_phone}
邮箱：{owner_email}
"""


def create(apps: Any, schema_editor: Any) -> None:
    template = apps.get_model("followups", "EmailTemplate")
    template.objects.get_or_create(name=NAME, defaults={"subject": SUBJECT, "body": BODY})


def remove(apps: Any, schema_editor: Any) -> None:
    apps.get_model("followups", "EmailTemplate").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("followups", "0005_first_talk_email")]
    operations = [migrations.RunPython(create, remove)]
