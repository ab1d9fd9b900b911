from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q, Value
from django.utils import timezone


def validate_string_list(value) -> None:
    """A JSON list of strings (a conversation's tags, a vote's reasons), as the API
    takes them: the admin refuses anything else."""
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError('Enter a JSON list of strings, such as ["beta", "ko"].')


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
    tags = models.JSONField(default=list, blank=True, validators=[validate_string_list])
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
    # On PostgreSQL the table also holds `export_contexts`, a stored generated column
    # the raw export copies (migration 0016); the model does not declare it. It is
    # computed from `contexts`: PostgreSQL refuses to change that column's type while it
    # depends on it, and dropping `contexts` would drop it too, so a migration that
    # alters or removes `contexts` must drop it first and add it again (see 0016).
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
    # OpenAI's function calling: an assistant message's calls,
    # [{"id", "type": "function", "function": {"name", "arguments"}}, ...], and on a
    # tool message the id of the call it answers.
    # Database defaults too, so that a process still running the code from before these
    # columns (its COPY does not name them) keeps ingesting during a deploy.
    tool_calls = models.JSONField(
        default=list, blank=True, db_default=Value([], models.JSONField())
    )
    tool_call_id = models.CharField(max_length=255, blank=True, db_default="")
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
            # Only the messages that call tools or answer a call (most projects have
            # none): whether an export needs the tool fields is one probe of it.
            models.Index(
                fields=["project"],
                condition=~Q(tool_calls=[]) | ~Q(tool_call_id=""),
                name="message_tool_calls",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.conversation_id}/{self.external_id} ({self.role})"

    @property
    def is_answer(self) -> bool:
        """What end users rate and reviewers label: an assistant message that says
        something to the user. One that calls tools is a step towards the answer
        (see annotations.selectors.ANSWERS, the same rule in a query)."""
        return self.role == self.Role.ASSISTANT and not self.tool_calls


class Feedback(models.Model):
    # On PostgreSQL the table also holds `export_vote`, a stored generated column the
    # raw export copies (migration 0017); the model does not declare it. It is computed
    # from end_user, rating, reasons, comment, source and created_at: a migration that
    # alters the type of one of those (a longer max_length included) or removes it must
    # drop it first and add it again (see 0017).
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
    reasons = models.JSONField(default=list, blank=True, validators=[validate_string_list])
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


class Rubric(models.Model):
    """One version of a project's rubric; editing creates a new version, old ones stay."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="rubrics")
    version = models.PositiveIntegerField()
    name = models.CharField(max_length=200, default="Answer quality")
    # [{"key", "type", "label": {"en", "ko"}, "help": {"en", "ko"}, "required",
    #   "options": [{"value", "label": {...}}], "scale": {"min", "max", "labels": {...}}}]
    questions = models.JSONField(default=list)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["project", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["project", "version"], name="rubric_unique_version"),
            models.UniqueConstraint(
                fields=["project"], condition=Q(is_active=True), name="rubric_one_active"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project.slug} rubric v{self.version}"


class Queue(models.Model):
    class Order(models.TextChoices):
        DOWN_FIRST = "down_first", "Thumbs-down first, then oldest"
        OLDEST = "oldest", "Oldest first"
        NEWEST = "newest", "Newest first"
        RANDOM = "random", "Random"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="queues")
    name = models.CharField(max_length=200)
    instructions = models.TextField(blank=True)
    # Message filter, see annotations.selectors.message_filter for the keys.
    filters = models.JSONField(default=dict, blank=True)
    order = models.CharField(max_length=16, choices=Order.choices, default=Order.DOWN_FIRST)
    annotations_per_item = models.PositiveSmallIntegerField(default=1)
    lease_minutes = models.PositiveSmallIntegerField(default=30)
    reviewers = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="queues")
    is_archived = models.BooleanField(default=False)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["project", "-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(annotations_per_item__gte=1, annotations_per_item__lte=10),
                name="queue_annotations_per_item_1_10",
            ),
            models.CheckConstraint(condition=Q(lease_minutes__gte=1), name="queue_lease_positive"),
        ]

    def __str__(self) -> str:
        return self.name


class QueueItem(models.Model):
    # Foreign keys without an index of their own are the first column of a composite
    # index or unique constraint below, which serves the same lookups: every index is
    # one more write on the hot paths (claims, submissions).
    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="items", db_index=False)
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="queue_items")
    # Lower comes first; computed from the queue's order when the item is added.
    sort_key = models.BigIntegerField(default=0)
    annotation_count = models.PositiveSmallIntegerField(default=0)
    is_done = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["queue", "sort_key", "id"]
        constraints = [
            models.UniqueConstraint(fields=["queue", "message"], name="queueitem_unique_message"),
        ]
        indexes = [
            models.Index(
                fields=["queue", "sort_key", "id"],
                condition=Q(is_done=False),
                name="queueitem_open",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.queue_id}:{self.message_id}"


class Claim(models.Model):
    """A reviewer's lease on one slot of a queue item; expired leases free the slot."""

    # Indexed first in claim_one_per_reviewer and claim_reviewer_time.
    item = models.ForeignKey(
        QueueItem, on_delete=models.CASCADE, related_name="claims", db_index=False
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="claims", db_index=False
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["expires_at"]
        constraints = [
            models.UniqueConstraint(fields=["item", "reviewer"], name="claim_one_per_reviewer"),
        ]
        indexes = [models.Index(fields=["reviewer", "expires_at"], name="claim_reviewer_time")]

    def __str__(self) -> str:
        return f"{self.reviewer_id} holds {self.item_id} until {self.expires_at}"


class Skip(models.Model):
    """A reviewer passed on an item; it is not offered to them again."""

    item = models.ForeignKey(QueueItem, on_delete=models.CASCADE, related_name="skips")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "reviewer"], name="skip_one_per_reviewer"),
        ]

    def __str__(self) -> str:
        return f"{self.reviewer_id} skipped {self.item_id}"


class QueueFrontier(models.Model):
    """Where a reviewer's claims in a queue start looking (PostgreSQL's claim function).

    Every open item before (sort_key, item_id) in the queue's order is one the reviewer
    has labeled or skipped, as of the queue's refresh at `refreshed_at`: items added by a
    later refresh may sort before it, so a frontier of an earlier refresh is not used.
    Without it a reviewer ahead of the others in a queue that wants several labels an
    item would step over every item they labeled that still waits for the others, on
    every claim.
    """

    # A cache the claim writes: no foreign key constraints in the database (the ORM
    # still deletes the rows with their queue or reviewer), since checking one would
    # make a claim wait at commit for a refresh holding the queue's row. The queue is
    # indexed by the unique constraint, which leads with it.
    queue = models.ForeignKey(
        Queue, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    sort_key = models.BigIntegerField()
    item_id = models.BigIntegerField()
    refreshed_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["queue", "reviewer"], name="frontier_one_per_reviewer"),
        ]

    def __str__(self) -> str:
        return f"{self.reviewer_id} in queue {self.queue_id} from item {self.item_id}"


class Annotation(models.Model):
    # On PostgreSQL the table also holds `export_tail`, a stored generated column the
    # raw export copies (migration 0017); the model does not declare it. It is computed
    # from corrected_answer, created_at and updated_at: a migration that alters the type
    # of one of those or removes it must drop it first and add it again (see 0017).
    class Source(models.TextChoices):
        HUMAN = "human", "Human"
        MODEL = "model", "Model"

    # Indexed first in annotation_project_time and annotation_one_per_annotator.
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="annotations", db_index=False
    )
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="annotations", db_index=False
    )
    rubric = models.ForeignKey(Rubric, on_delete=models.PROTECT, related_name="annotations")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="annotations",
    )
    # "user:<id>" for reviewers, "<source>:<name>" for imported labels; one per message.
    annotator_key = models.CharField(max_length=255)
    annotator_name = models.CharField(max_length=255)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.HUMAN)
    queue_item = models.ForeignKey(
        QueueItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="annotations"
    )
    answers = models.JSONField(default=dict)
    corrected_answer = models.TextField(blank=True)
    time_spent_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["message", "created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["message", "annotator_key"], name="annotation_one_per_annotator"
            ),
            models.CheckConstraint(
                condition=Q(source__in=["human", "model"]), name="annotation_source_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["project", "created_at"], name="annotation_project_time"),
            # "What has this reviewer labeled" when picking their next item.
            models.Index(fields=["annotator_key", "message"], name="annotation_annotator"),
        ]

    def __str__(self) -> str:
        return f"{self.annotator_name} on {self.message_id}"


class AnnotationRevision(models.Model):
    """Who changed an annotation, when, and what it held before and after."""

    annotation = models.ForeignKey(Annotation, on_delete=models.CASCADE, related_name="revisions")
    editor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    editor_name = models.CharField(max_length=255)
    before = models.JSONField()
    after = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["annotation", "created_at"]

    def __str__(self) -> str:
        return f"{self.editor_name} edited {self.annotation_id} at {self.created_at}"
