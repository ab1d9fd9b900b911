"""Export jobs over the API: create one, follow it, download its files."""

import datetime
from typing import Annotated, Any, Literal

from django.http import HttpResponseBase
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from pydantic import BaseModel, ConfigDict, Field
from rest_framework import serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response

from annotations.api.serializers import ErrorSerializer
from annotations.api.views import ERRORS, SecretKeyApiView, read_payload
from annotations.errors import InvalidInput
from exports.downloads import export_job_download
from exports.models import ExportJob
from exports.options import export_options_clean
from exports.selectors import export_job_get, export_job_list
from exports.services.jobs import export_job_create, export_job_delete

FILTER_FIELDS = (
    "since",
    "until",
    "queue",
    "tags",
    "model",
    "prompt_name",
    "prompt_version",
    "rating",
    "gold_only",
    "limit",
)
Text = Annotated[str, Field(max_length=500)]


class ExportFiltersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: datetime.date | None = None
    until: datetime.date | None = None
    queue: Annotated[int, Field(ge=1)] | None = None
    tags: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=100)]], Field(max_length=50)
    ] = []
    model: Text | None = None
    prompt_name: Text | None = None
    prompt_version: Text | None = None
    rating: Literal["up", "down"] | None = None
    gold_only: bool = False
    limit: (
        Annotated[
            int,
            Field(
                ge=1,
                description="At most this many answers, of those that can give the kind's rows "
                "(for preference, answers with a reviewer's correction; for sft, answers with a "
                "reviewer's label or an up vote).",
            ),
        ]
        | None
    ) = None


class ExportIn(BaseModel):
    """An export request: `{"kind": "sft", "format": "jsonl", "filters": {...},
    "split": {"train": 0.9, "test": 0.1}, "seed": "7", "redact_pii": true}`."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    kind: Literal["raw", "eval", "sft", "preference"]
    format: Literal["jsonl", "csv", "parquet"]
    filters: ExportFiltersIn = ExportFiltersIn()
    # "train=0.8,test=0.2" or {"train": 0.8, "test": 0.2}.
    split: Annotated[str, Field(max_length=500)] | dict[str, float] | None = None
    seed: Annotated[str, Field(max_length=100)] = "0"
    redact_pii: bool = False
    preference_format: Literal["trl", "openai"] = "trl"
    sft_min_rating: Annotated[float, Field(ge=1, le=5)] | None = None


class ExportJobSerializer(serializers.ModelSerializer):
    format = serializers.CharField(source="file_format")
    progress = serializers.SerializerMethodField()
    rows = serializers.JSONField(source="row_counts")
    files = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = ExportJob
        fields = [
            "id",
            "status",
            "kind",
            "format",
            "options",
            "progress",
            "rows",
            "files",
            "manifest",
            "error",
            "created_at",
            "started_at",
            "finished_at",
            "expired_at",
            "download_url",
        ]

    def get_progress(self, job: ExportJob) -> dict[str, Any]:
        return {
            "percent": job.progress_percent,
            "answers_read": job.rows_read,
            "answers_expected": job.rows_expected,
            "rows_written": job.rows_written,
        }

    def get_files(self, job: ExportJob) -> list[str]:
        return [name.rsplit("/", 1)[-1] for name in job.files]

    def get_download_url(self, job: ExportJob) -> str | None:
        if not job.is_downloadable:
            return None
        return reverse("api-export-download", kwargs={"job_id": job.pk})


def _api_fields(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """Errors named as in the request body, where filters sit under "filters"."""
    return {
        (f"filters.{field}" if field in FILTER_FIELDS else field): messages
        for field, messages in errors.items()
    }


def _options_from(payload: ExportIn) -> dict[str, Any]:
    split = payload.split
    if isinstance(split, dict):
        split = ",".join(f"{name}={fraction!r}" for name, fraction in split.items())
    filters = payload.filters.model_dump()
    for key in ("since", "until"):
        if filters[key] is not None:
            filters[key] = filters[key].isoformat()
    return {
        "kind": payload.kind,
        "format": payload.format,
        **filters,
        "split": split,
        "seed": payload.seed,
        "redact_pii": payload.redact_pii,
        "preference_format": payload.preference_format,
        "sft_min_rating": payload.sft_min_rating,
    }


# Export jobs listed by one request at most.
MAX_LISTED = 200


class ExportListQuery(BaseModel):
    """The list's query: `?status=succeeded&limit=10`."""

    status: ExportJob.Status | None = None
    limit: Annotated[int, Field(ge=1, le=MAX_LISTED)] = 50


class ExportListApi(SecretKeyApiView):
    @extend_schema(
        operation_id="export_list",
        summary="The project's export jobs, newest first",
        parameters=[
            OpenApiParameter(
                "status",
                str,
                enum=ExportJob.Status.values,
                description="Only the jobs in this status.",
            ),
            OpenApiParameter(
                "limit", int, description=f"At most this many (default 50, at most {MAX_LISTED})."
            ),
        ],
        responses={200: ExportJobSerializer(many=True), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        query = ExportListQuery.model_validate(request.query_params.dict())
        jobs = export_job_list(
            project=self.project_key.project, limit=query.limit, status=query.status
        )
        return Response(ExportJobSerializer(jobs, many=True).data)

    @extend_schema(
        operation_id="export_create",
        summary="Start a dataset export",
        description=(
            "Queues an export job and answers at once (202); follow it at "
            "`GET /api/v1/exports/{id}/` and download it when `status` is `succeeded`."
        ),
        request=ExportIn,
        responses={202: ExportJobSerializer, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        payload = read_payload(request, ExportIn)
        options, errors = export_options_clean(_options_from(payload))
        if options is None:
            raise InvalidInput("The export request is not valid.", fields=_api_fields(errors))
        try:
            job = export_job_create(
                project=self.project_key.project, options=options, created_by_key=self.project_key
            )
        except InvalidInput as error:
            raise InvalidInput(error.message, fields=_api_fields(error.fields)) from None
        return Response(ExportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class ExportDetailApi(SecretKeyApiView):
    @extend_schema(
        operation_id="export_retrieve",
        summary="An export job: status, progress, row counts, manifest",
        responses={200: ExportJobSerializer, 404: ErrorSerializer, **ERRORS},
    )
    def get(self, request: Request, job_id: int) -> Response:
        job = export_job_get(project=self.project_key.project, job_id=job_id)
        return Response(ExportJobSerializer(job).data)

    @extend_schema(
        operation_id="export_delete",
        summary="Delete a finished export job, its files and manifest",
        responses={
            204: None,
            404: ErrorSerializer,
            409: OpenApiResponse(ErrorSerializer, description="The export is still running."),
            **ERRORS,
        },
    )
    def delete(self, request: Request, job_id: int) -> Response:
        job = export_job_get(project=self.project_key.project, job_id=job_id)
        export_job_delete(job=job)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AnyAcceptNegotiation(BaseContentNegotiation):
    """A download is a file whatever the client accepts; errors still render as JSON."""

    def select_parser(self, request: Request, parsers: list[Any]) -> Any:
        return parsers[0] if parsers else None

    def select_renderer(
        self, request: Request, renderers: list[Any], format_suffix: str | None = None
    ) -> tuple[Any, str]:
        return renderers[0], renderers[0].media_type


class ExportDownloadApi(SecretKeyApiView):
    content_negotiation_class = AnyAcceptNegotiation

    @extend_schema(
        operation_id="export_download",
        summary="Download an export's file (a zip of the split files and manifest)",
        responses={
            (200, "application/octet-stream"): OpenApiTypes.BINARY,
            404: ErrorSerializer,
            409: OpenApiResponse(ErrorSerializer, description="The export has not succeeded."),
            **ERRORS,
        },
    )
    def get(self, request: Request, job_id: int) -> HttpResponseBase:
        job = export_job_get(project=self.project_key.project, job_id=job_id)
        return export_job_download(job)
