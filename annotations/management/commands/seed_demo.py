import datetime
import json
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from annotations import demo_data
from annotations.models import Feedback, Membership, Message, Project, Queue
from annotations.payloads import ConversationIn
from annotations.services.annotations import annotation_submit
from annotations.services.feedback import feedback_submit
from annotations.services.ingest import conversation_batch_ingest
from annotations.services.projects import membership_set, project_create
from annotations.services.queues import queue_create, queue_refresh
from annotations.services.stats import daily_stats_refresh

DEMO_SLUG = "devot-demo"
DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo-feedback-2026"  # noqa: S105 - printed on purpose for the local demo


class Command(BaseCommand):
    help = "Create a demo project with realistic Korean and English conversations and votes."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--conversations", type=int, default=300)
        parser.add_argument("--seed", type=int, default=7)

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        user = self._demo_user()
        project = Project.objects.filter(slug=DEMO_SLUG).first()
        keys: dict[str, str] = {}
        if project is None:
            project, secret_key, public_key = project_create(
                slug=DEMO_SLUG, name="Devot community assistant", created_by=user
            )
            project.allowed_origins = ["http://127.0.0.1:8000", "http://localhost:8000"]
            project.save(update_fields=["allowed_origins"])
            keys = {"secret_key": secret_key, "public_key": public_key}
        membership_set(project=project, user=user, role=Membership.Role.ADMIN)

        # The 30 days before today; the same conversations whenever it runs, and a re-run
        # appends nothing: the votes and labels go to the conversations this run created.
        now = timezone.now().replace(minute=0, second=0, microsecond=0)
        conversations = demo_data.demo_conversations(
            count=options["conversations"], seed=options["seed"], now=now
        )
        payloads = [ConversationIn.model_validate(item) for item in conversations]
        created: set[str] = set()
        for start in range(0, len(payloads), 500):
            results = conversation_batch_ingest(
                project=project, conversations=payloads[start : start + 500]
            )
            created.update(result.external_id for result in results if result.status == "created")
        conversations = [
            conversation for conversation in conversations if conversation["id"] in created
        ]
        votes = demo_data.demo_feedback(conversations=conversations, seed=options["seed"])
        for vote in votes:
            feedback_submit(
                project=project,
                conversation_id=vote["conversation"],
                message_id=vote["message"],
                end_user=vote["user"],
                rating=vote["rating"],
                reasons=vote.get("reasons", []),
                comment=vote.get("comment", ""),
                source=Feedback.Source.WIDGET,
            )
        labels = self._demo_labels(
            project=project, conversations=conversations, seed=options["seed"]
        )
        daily_stats_refresh(project=project, since=(now - datetime.timedelta(days=31)).date())
        queues = self._demo_queues(project=project, user=user)

        summary = {
            "project": project.slug,
            "conversations_created": len(created),
            "conversations_total": project.conversations.count(),
            "votes": len(votes),
            "labels": labels,
            "queues": queues,
            "login": {"username": DEMO_USERNAME, "password": DEMO_PASSWORD},
            **keys,
        }
        self.stdout.write(json.dumps(summary, ensure_ascii=False, indent=2))

    def _demo_labels(self, *, project: Project, conversations: list[dict], seed: int) -> int:
        """The demo reviewers' labels on these conversations; how many there are."""
        reviewers = {}
        for name in demo_data.REVIEWERS:
            # Reviewers without a password: their labels are part of the story, the demo
            # login is the one to use.
            reviewer, _ = get_user_model().objects.get_or_create(username=name)
            membership_set(project=project, user=reviewer, role=Membership.Role.REVIEWER)
            reviewers[name] = reviewer
        labels = demo_data.demo_labels(conversations=conversations, seed=seed)
        labeled = Message.objects.filter(
            project=project,
            conversation__external_id__in={label["conversation"] for label in labels},
        ).select_related("conversation")
        messages = {
            (message.conversation.external_id, message.external_id): message for message in labeled
        }
        for label in labels:
            annotation_submit(
                message=messages[(label["conversation"], label["message"])],
                reviewer=reviewers[label["reviewer"]],
                answers=label["answers"],
            )
        return len(labels)

    def _demo_queues(self, *, project: Project, user: Any) -> list[str]:
        """Two queues to start from; refreshed (never duplicated) on a re-run."""
        wanted = [
            ("Thumbs-down triage", {"rating": "down"}, 1, "Label every answer users disliked."),
            (
                "Weekly 10% sample",
                {"sample_percent": 10},
                2,
                "Two reviewers per answer, to measure agreement.",
            ),
        ]
        names = []
        for name, filters, per_item, instructions in wanted:
            queue = Queue.objects.filter(project=project, name=name).first()
            if queue is None:
                queue_create(
                    project=project,
                    name=name,
                    filters=filters,
                    annotations_per_item=per_item,
                    instructions=instructions,
                    created_by=user,
                )
            else:
                queue_refresh(queue=queue)
            names.append(name)
        return names

    def _demo_user(self) -> Any:
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(
            username=DEMO_USERNAME, defaults={"is_staff": True, "is_superuser": True}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        return user
