import io
import json

import pytest
from django.core.management import CommandError, call_command

from annotations.models import (
    Annotation,
    AnnotationRevision,
    Conversation,
    Feedback,
    Membership,
    Message,
    Project,
)
from annotations.selectors import ANSWERS, project_key_resolve

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_create_project_prints_one_json_object_with_working_keys():
    output = _run("create_project", "devot-chatbot", "--name", "Devot 챗봇")

    body = json.loads(output)
    assert set(body) == {"project", "secret_key", "public_key"}
    assert body["project"] == "devot-chatbot"
    assert Project.objects.get(slug="devot-chatbot").name == "Devot 챗봇"
    assert project_key_resolve(raw_key=body["secret_key"]).kind == "secret"
    assert project_key_resolve(raw_key=body["public_key"]).kind == "public"


def test_create_project_twice_fails_clearly():
    _run("create_project", "devot")

    with pytest.raises(CommandError, match="already exists"):
        _run("create_project", "devot")


def test_seed_demo_creates_realistic_data_and_is_idempotent():
    first = json.loads(_run("seed_demo", "--conversations", "120"))
    counts = (
        Conversation.objects.count(),
        Message.objects.count(),
        Feedback.objects.count(),
        Annotation.objects.count(),
        AnnotationRevision.objects.count(),
    )

    second = json.loads(_run("seed_demo", "--conversations", "120"))

    assert first["conversations_created"] == 120
    assert second["conversations_created"] == 0
    assert (
        Conversation.objects.count(),
        Message.objects.count(),
        Feedback.objects.count(),
        Annotation.objects.count(),
        AnnotationRevision.objects.count(),
    ) == counts
    assert first["labels"] == Annotation.objects.count() > 0
    assert (second["votes"], second["labels"]) == (0, 0)
    assert first["login"]["username"] == "demo"
    assert first["secret_key"].startswith("sk_")
    assert "secret_key" not in second
    project = Project.objects.get(slug=first["project"])
    assert Membership.objects.get(project=project, user__username="demo").role == "admin"
    answers = Message.objects.filter(ANSWERS, project=project)
    assert answers.exclude(contexts=[]).count() == answers.count()
    # The latest prompt searches the docs through a tool call before answering.
    steps = Message.objects.filter(project=project, role="assistant").exclude(tool_calls=[])
    assert steps.exists()
    assert not Feedback.objects.filter(message__in=steps).exists()
    results = Message.objects.filter(project=project, role="tool")
    assert set(results.values_list("tool_call_id", flat=True)) == {
        call["id"] for step in steps for call in step.tool_calls
    }
    assert answers.values("prompt_version").distinct().count() >= 2
    assert answers.values("model").distinct().count() >= 2
    ratings = set(Feedback.objects.values_list("rating", flat=True))
    assert ratings == {"up", "down"}
    assert Message.objects.filter(content__regex=r"[가-힣]").exists()
    assert Feedback.objects.filter(rating="down").exclude(reasons=[]).exists()
    assert project.daily_stats.exists()
    # Two reviewers labeled some answers, flawed ones low with their errors and mostly
    # corrected, the others high.
    labels = Annotation.objects.filter(project=project)
    assert set(labels.values_list("annotator__username", flat=True)) == {"mina", "joon"}
    assert set(labels.values_list("source", flat=True)) == {"human"}
    corrected = labels.exclude(corrected_answer="")
    assert corrected.exists()
    assert all(label.answers["correctness"] <= 3 for label in corrected)
    assert any(label.answers.get("errors") for label in corrected)
    assert labels.filter(answers__correctness__gte=4).exists()
    assert Membership.objects.get(project=project, user__username="mina").role == "reviewer"


@pytest.mark.parametrize("kind", ["raw", "eval", "sft", "preference"])
def test_every_export_kind_has_rows_in_the_demo(tmp_path, kind):
    _run("seed_demo", "--conversations", "150")
    output = tmp_path / f"{kind}.jsonl"

    call_command(
        "export_dataset",
        "--project=devot-demo",
        f"--kind={kind}",
        "--format=jsonl",
        f"--output={output}",
        "--quiet",
    )

    assert output.read_text("utf-8").count("\n") > 0


def test_seed_demo_creates_two_queues_once():
    from annotations.models import Queue

    _run("seed_demo", "--conversations", "60")
    _run("seed_demo", "--conversations", "60")

    queues = Queue.objects.order_by("name")
    assert [q.name for q in queues] == ["Thumbs-down triage", "Weekly 10% sample"]
    triage = queues[0]
    assert (
        triage.items.count() == Message.objects.filter(feedback__rating="down").distinct().count()
    )
    assert triage.items.count() > 0


def test_seed_demo_runs_again_on_another_day_and_with_another_count(monkeypatch):
    """The demo's conversations say the same whenever they are made: re-running `make
    run` later (or asking for more) adds to the demo and changes nothing in it."""
    import datetime

    from django.utils import timezone

    _run("seed_demo", "--conversations", "80")
    counts = (Feedback.objects.count(), Annotation.objects.count())
    contents = dict(Message.objects.values_list("id", "content"))
    later = timezone.now() + datetime.timedelta(days=3, hours=7)
    monkeypatch.setattr(timezone, "now", lambda: later)

    again = json.loads(_run("seed_demo", "--conversations", "80"))
    more = json.loads(_run("seed_demo", "--conversations", "120"))

    assert again["conversations_created"] == 0
    assert (Feedback.objects.count(), Annotation.objects.count()) >= counts
    assert dict(Message.objects.filter(id__in=contents).values_list("id", "content")) == contents
    assert more["conversations_total"] >= 80
    # Every vote and label is on an answer.
    assert not Feedback.objects.exclude(message__role="assistant").exists()
    assert not Annotation.objects.exclude(message__role="assistant").exists()
