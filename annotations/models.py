from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Project(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    # Origins (scheme://host[:port]) whose pages may send widget feedback.
    allowed_origins = models.JSONField(default=list, blank=True)
    # Reason chips offered by the widget on a thumbs-down; empty means the defaults.
    feedback_reasons = models.JSONField(default=list, blank=True)
    require_signed_feedback = models.BooleanField(default=False)
    # HMAC key for feedback tokens. The server must recompute tokens, so unlike API
    # keys it is stored as it is; only admins and secret-key holders can read it.
    feedback_signing_secret = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class ProjectKey(models.Model):
    class Kind(models.TextChoices):
        SECRET = "secret", "Secret"
        PUBLIC = "public", "Public"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="keys")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    name = models.CharField(max_length=100, blank=True)
    # What lists may show: the whole key for public keys, a short prefix for secret ones.
    display = models.CharField(max_length=80)
    key_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["project", "kind", "-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["secret", "public"]), name="projectkey_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project.slug}:{self.display}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class Membership(models.Model):
    class Role(models.TextChoices):
        ADMIN = "admin", "Admin"
        REVIEWER = "reviewer", "Reviewer"
        VIEWER = "viewer", "Viewer"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.REVIEWER)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["project", "user"]
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="membership_unique_user"),
            models.CheckConstraint(
                condition=Q(role__in=["admin", "reviewer", "viewer"]), name="membership_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.project} ({self.role})"


class Conversation(models.Model):
    # Indexed by the (project, external_id) unique constraint, which starts with it.
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="conversations", db_index=False
    )
    external_id = models.CharField(max_length=255)
    end_user = models.CharField(max_length=255, blank=True)
    tags = models.JSONField(default=list, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "external_id"], name="conversation_unique_external_id"
            ),
        ]
        indexes = [models.Index(fields=["project", "created_at"], name="conversation_project_time")]

    def __str__(self) -> str:
        return self.external_id


class Message(models.Model):
    class Role(models.TextChoices):
        SYSTEM = "system", "System"
        USER = "user", "User"
        ASSISTANT = "assistant", "Assistant"
        TOOL = "tool", "Tool"

    # Both foreign keys are covered by the indexes in Meta, which start with them;
    # every index costs ingestion time, so none is duplicated.
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    # Denormalized from the conversation so that project-wide queries need no join.
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    external_id = models.CharField(max_length=255)
    position = models.PositiveIntegerField()
    role = models.CharField(max_length=16, choices=Role.choices)
    content = models.TextField(blank=True)
    model = models.CharField(max_length=200, blank=True)
    prompt_name = models.CharField(max_length=200, blank=True)
    prompt_version = models.CharField(max_length=100, blank=True)
    # [{"id", "title", "url", "text", "score"}, ...] as retrieved for this answer.
    contexts = models.JSONField(default=list, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    usage = models.JSONField(default=dict, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["conversation", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "external_id"], name="message_unique_external_id"
            ),
            models.CheckConstraint(
                condition=Q(role__in=["system", "user", "assistant", "tool"]),
                name="message_role_valid",
            ),
        ]
        indexes = [
            models.Index(
                fields=["project", "role", "created_at"], name="message_project_role_time"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.conversation_id}/{self.external_id} ({self.role})"


class Feedback(models.Model):
    class Rating(models.TextChoices):
        UP = "up", "Thumbs up"
        DOWN = "down", "Thumbs down"

    class Source(models.TextChoices):
        API = "api", "API"
        WIDGET = "widget", "Widget"

    # Both covered by the indexes in Meta that start with them.
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="feedback", db_index=False
    )
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="feedback", db_index=False
    )
    end_user = models.CharField(max_length=255)
    rating = models.CharField(max_length=8, choices=Rating.choices)
    reasons = models.JSONField(default=list, blank=True)
    comment = models.TextField(blank=True)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.API)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-updated_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["message", "end_user"], name="feedback_one_vote_per_user"
            ),
            models.CheckConstraint(
                condition=Q(rating__in=["up", "down"]), name="feedback_rating_valid"
            ),
            models.CheckConstraint(
                condition=Q(source__in=["api", "widget"]), name="feedback_source_valid"
            ),
        ]
        indexes = [models.Index(fields=["project", "updated_at"], name="feedback_project_time")]

    def __str__(self) -> str:
        return f"{self.rating} by {self.end_user} on {self.message_id}"


class DailyStats(models.Model):
    """Per-day rollup of answers and votes by model and prompt version, rebuilt by a task."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="daily_stats")
    day = models.DateField()
    model = models.CharField(max_length=200, blank=True)
    prompt_name = models.CharField(max_length=200, blank=True)
    prompt_version = models.CharField(max_length=100, blank=True)
    answers = models.PositiveIntegerField(default=0)
    thumbs_up = models.PositiveIntegerField(default=0)
    thumbs_down = models.PositiveIntegerField(default=0)
    refreshed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["project", "day", "model", "prompt_name", "prompt_version"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "day", "model", "prompt_name", "prompt_version"],
                name="dailystats_unique_bucket",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project_id} {self.day} {self.model} {self.prompt_name}@{self.prompt_version}"
