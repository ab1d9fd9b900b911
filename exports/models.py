from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from annotations.models import Project, ProjectKey


class ExportJob(models.Model):
    """One dataset export, run by a Celery task; the files live under MEDIA_ROOT."""

    class Kind(models.TextChoices):
        RAW = "raw", "Raw"
        EVAL = "eval", "RAG evaluation"
        SFT = "sft", "Supervised fine-tuning"
        PREFERENCE = "preference", "Preference pairs"

    class Format(models.TextChoices):
        JSONL = "jsonl", "JSONL"
        CSV = "csv", "CSV"
        PARQUET = "parquet", "Parquet"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="export_jobs")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    file_format = models.CharField(max_length=16, choices=Format.choices)
    # Everything asked for, as exports.options.ExportOptions.as_dict() (filters included).
    options = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    rows_expected = models.PositiveBigIntegerField(null=True, blank=True)
    rows_read = models.PositiveBigIntegerField(default=0)
    rows_written = models.PositiveBigIntegerField(default=0)
    # {split name (or "all"): rows}
    row_counts = models.JSONField(default=dict, blank=True)
    # Relative to MEDIA_ROOT: the job's directory and its data files, manifest excluded.
    directory = models.CharField(max_length=500, blank=True)
    files = models.JSONField(default=list, blank=True)
    manifest = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_key = models.ForeignKey(
        ProjectKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # When the files were removed after EXPORT_RETENTION_DAYS (the record and manifest stay).
    expired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running", "succeeded", "failed"]),
                name="exportjob_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["raw", "eval", "sft", "preference"]),
                name="exportjob_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(file_format__in=["jsonl", "csv", "parquet"]),
                name="exportjob_format_valid",
            ),
        ]
        indexes = [models.Index(fields=["project", "-created_at"], name="exportjob_project_time")]

    def __str__(self) -> str:
        return f"export {self.pk} {self.kind}/{self.file_format} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)

    @property
    def is_downloadable(self) -> bool:
        return self.status == self.Status.SUCCEEDED and self.expired_at is None

    @property
    def progress_percent(self) -> int:
        if self.status == self.Status.SUCCEEDED:
            return 100
        if not self.rows_expected:
            return 0
        return min(99, int(self.rows_read * 100 / self.rows_expected))
