"""API for labels, rubrics and queues (secret key)."""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from annotations.errors import NotFound
from annotations.models import Annotation, Queue, Rubric
from annotations.payloads import AnnotationImportIn, QueueIn, RubricIn
from annotations.selectors import queue_list_with_progress, rubric_active
from annotations.services.annotations import annotation_import
from annotations.services.queues import queue_create, queue_refresh
from annotations.services.rubrics import rubric_publish

from .serializers import ErrorSerializer
from .views import ERRORS, SecretKeyApiView, read_payload


class AnnotationOutputSerializer(serializers.ModelSerializer):
    conversation = serializers.CharField(source="message.conversation.external_id")
    message = serializers.CharField(source="message.external_id")
    annotator = serializers.CharField(source="annotator_name")
    rubric_version = serializers.IntegerField(source="rubric.version")

    class Meta:
        model = Annotation
        fields = [
            "conversation",
            "message",
            "annotator",
            "source",
            "rubric_version",
            "answers",
            "corrected_answer",
            "created_at",
            "updated_at",
        ]


class RubricOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Rubric
        fields = ["version", "name", "questions", "is_active", "created_at"]


class QueueOutputSerializer(serializers.ModelSerializer):
    item_count = serializers.IntegerField(read_only=True, default=None)
    done_count = serializers.IntegerField(read_only=True, default=None)
    annotation_total = serializers.IntegerField(read_only=True, default=None)

    class Meta:
        model = Queue
        fields = [
            "id",
            "name",
            "instructions",
            "filters",
            "order",
            "annotations_per_item",
            "lease_minutes",
            "refreshed_at",
            "created_at",
            "item_count",
            "done_count",
            "annotation_total",
        ]


class AnnotationImportApi(SecretKeyApiView):
    @extend_schema(
        operation_id="annotation_import",
        summary="Import labels from another tool or a model",
        description=(
            "Validated against the project's active rubric. Idempotent per (message, "
            "annotator): the same labels again change nothing (200); different labels "
            "replace them and the old ones stay in the history."
        ),
        request=AnnotationImportIn,
        responses={
            201: AnnotationOutputSerializer,
            200: AnnotationOutputSerializer,
            404: ErrorSerializer,
            **ERRORS,
        },
    )
    def post(self, request: Request) -> Response:
        payload = read_payload(request, AnnotationImportIn)
        annotation, created = annotation_import(
            project=self.project_key.project,
            conversation_id=payload.conversation,
            message_id=payload.message,
            annotator=payload.annotator,
            source=payload.source,
            answers=payload.answers,
            corrected_answer=payload.corrected_answer,
        )
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(AnnotationOutputSerializer(annotation).data, status=code)


class RubricApi(SecretKeyApiView):
    @extend_schema(
        operation_id="rubric_retrieve",
        summary="The active rubric version",
        responses={200: RubricOutputSerializer, 404: ErrorSerializer, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        rubric = rubric_active(project_id=self.project_key.project_id)
        if rubric is None:
            raise NotFound("This project has no rubric.")
        return Response(RubricOutputSerializer(rubric).data)

    @extend_schema(
        operation_id="rubric_publish",
        summary="Publish a new rubric version (older annotations keep theirs)",
        request=RubricIn,
        responses={201: RubricOutputSerializer, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        payload = read_payload(request, RubricIn)
        rubric = rubric_publish(
            project=self.project_key.project, questions=payload.questions, name=payload.name
        )
        return Response(RubricOutputSerializer(rubric).data, status=status.HTTP_201_CREATED)


class QueueListApi(SecretKeyApiView):
    @extend_schema(
        operation_id="queue_list",
        summary="Queues with their progress",
        responses={200: QueueOutputSerializer(many=True), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        queues = queue_list_with_progress(project=self.project_key.project)
        return Response(QueueOutputSerializer(queues, many=True).data)

    @extend_schema(
        operation_id="queue_create",
        summary="Create a queue from a filter over assistant answers",
        request=QueueIn,
        responses={201: QueueOutputSerializer, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        payload = read_payload(request, QueueIn)
        queue = queue_create(project=self.project_key.project, **payload.model_dump())
        return Response(self._with_progress(queue), status=status.HTTP_201_CREATED)

    def _with_progress(self, queue: Queue) -> dict[str, Any]:
        [row] = [q for q in queue_list_with_progress(project=queue.project) if q.pk == queue.pk]
        return QueueOutputSerializer(row).data


class QueueRefreshApi(SecretKeyApiView):
    @extend_schema(
        operation_id="queue_refresh",
        summary="Add answers that now match the queue's filter (never duplicates)",
        request=None,
        responses={200: dict, 404: ErrorSerializer, **ERRORS},
    )
    def post(self, request: Request, queue_id: int) -> Response:
        queue = Queue.objects.filter(project=self.project_key.project, pk=queue_id).first()
        if queue is None:
            raise NotFound("No such queue in this project.")
        return Response({"added": queue_refresh(queue=queue)})
