"""Widget origins saved before origin_normalize wrote them as browsers send them (the
default port dropped, an internationalized host name in its ASCII form, an IPv6
address in brackets) never matched a browser's Origin header: rewrite them."""

from django.db import migrations

from annotations.errors import InvalidInput
from annotations.services.projects import origin_normalize


def normalize(apps, schema_editor):
    Project = apps.get_model("annotations", "Project")
    for project in Project.objects.only("id", "allowed_origins").iterator():
        if not project.allowed_origins:
            continue
        origins = []
        for origin in project.allowed_origins:
            try:
                origins.append(origin_normalize(origin))
            except InvalidInput:
                origins.append(origin)
        origins = list(dict.fromkeys(origins))
        if origins != project.allowed_origins:
            Project.objects.filter(pk=project.pk).update(allowed_origins=origins)


class Migration(migrations.Migration):
    dependencies = [("annotations", "0009_queueitem_autovacuum")]

    operations = [migrations.RunPython(normalize, migrations.RunPython.noop)]
