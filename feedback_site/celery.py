import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "feedback_site.settings")

app = Celery("feedback_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
