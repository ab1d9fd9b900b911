from typing import Any, TypeVar

from django.http.response import HttpResponseBase
from drf_spectacular.utils import OpenApiResponse, extend_schema
from pydantic import BaseModel, ValidationError
from rest_framework import status
from rest_framework.exceptions import ParseError, UnsupportedMediaType
from rest_framework.negotiation import BaseContentNegotiation, DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.errors import InvalidInput
from annotations.feedback_reasons import project_reasons
from annotations.models import Feedback, Project, ProjectKey
from annotations.payloads import (
    MAX_BATCH_CONVERSATIONS,
    BatchEnvelope,
    BatchIn,
    ConversationIn,
    FeedbackIn,
    JsonValue,
    has_nul_escape,
    nul_fields,
    validation_fields,
)
from annotations.selectors import conversation_get, daily_stats_list
from annotations.services.feedback import feedback_submit
from annotations.services.ingest import CREATED, FAILED, IngestResult, conversation_batch_ingest

from .serializers import (
    BatchResultSerializer,
    ConversationOutputSerializer,
    DailyStatsSerializer,
    ErrorSerializer,
    FeedbackOutputSerializer,
    IngestResultSerializer,
    feedback_data,
)

PayloadT = TypeVar("PayloadT", bound=BaseModel)

ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input; `fields` names the fields."),
    401: OpenApiResponse(ErrorSerializer, description="Missing, unknown or revoked key."),
    403: OpenApiResponse(ErrorSerializer, description="The key may not do this."),
    413: OpenApiResponse(ErrorSerializer, description="The body is over the size limit."),
}


def read_json_body(request: Request) -> bytes:
    body = request.body
    if not body.strip():
        raise ParseError("The request body is empty; send a JSON object.")
    content_type = request.content_type.split(";")[0].strip().lower()
    if content_type != "application/json":
        raise UnsupportedMediaType(content_type or "none")
    return body


def parse_payload(body: bytes, model: type[PayloadT]) -> PayloadT:
    """Validate a JSON body straight from bytes into a pydantic model."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        if any(error["type"] == "json_invalid" for error in errors):
            raise ParseError(f"The body is not valid JSON: {errors[0]['msg']}") from None
        raise


def read_payload(request: Request, model: type[PayloadT]) -> PayloadT:
    """The validated body of a request; NUL characters are refused, naming the fields."""
    body = read_json_body(request)
    if has_nul_escape(body):
        fields = nul_fields(parse_payload(body, JsonValue).root)
        if fields:
            raise InvalidInput(
                "The body holds what cannot be stored: NUL characters, NaN or Infinity.",
                fields=fields,
            )
    return parse_payload(body, model)


class JsonNegotiation(BaseContentNegotiation):
    """The key API answers in JSON whatever the Accept header says.

    DRF's default negotiation matches the Accept header against every renderer, a
    cost on each vote, only to choose the one renderer these endpoints have. The
    request's Content-Type is still checked against the parsers.
    """

    def __init__(self) -> None:
        self._default = DefaultContentNegotiation()

    def select_parser(self, request: Request, parsers: list[Any]) -> Any:
        return self._default.select_parser(request, parsers)

    def select_renderer(
        self, request: Request, renderers: list[Any], format_suffix: str | None = None
    ) -> tuple[Any, str]:
        renderer = renderers[0]
        return renderer, renderer.media_type


class KeyApiView(APIView):
    """Base of the endpoints authenticated by a project key (secret or public).

    DRF links a view, its request and its response to one another (view.request,
    request.parser_context["view"], response.renderer_context["response"], ...). Once
    the response has been sent those links are undone, so that reference counting
    frees a request's objects at once instead of leaving them to the cyclic garbage
    collector, whose pauses would stall every request in flight.
    """

    content_negotiation_class = JsonNegotiation

    def finalize_response(
        self, request: Request, response: HttpResponseBase, *args: Any, **kwargs: Any
    ) -> HttpResponseBase:
        response = super().finalize_response(request, response, *args, **kwargs)
        # Called by response.close(), which then empties the list of closers.
        response._resource_closers.append(self._unlink)
        return response

    def _unlink(self) -> None:
        request = getattr(self, "request", None)
        response = getattr(self, "response", None)
        if isinstance(request, Request):
            request.parser_context.clear()
        if response is not None and getattr(response, "renderer_context", None):
            response.renderer_context.clear()
        # Also Django's view.head = view.get, a bound method of the view held by itself.
        self.__dict__.clear()


class SecretKeyApiView(KeyApiView):
    """Base for endpoints that act for the project of a secret key."""

    @property
    def project_key(self) -> ProjectKey:
        return self.request.auth


def _result_dict(result: IngestResult) -> dict[str, Any]:
    return {
        "id": result.external_id,
        "status": result.status,
        "messages_created": result.messages_created,
    }


class ConversationCreateApi(SecretKeyApiView):
    @extend_schema(
        operation_id="conversation_create",
        summary="Log a conversation, or append its new messages",
        description=(
            "Idempotent by ids: posting a known conversation appends messages with new ids "
            "and leaves known ones unchanged. 201 when created, 200 when it existed."
        ),
        request=ConversationIn,
        responses={200: IngestResultSerializer, 201: IngestResultSerializer, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        payload = read_payload(request, ConversationIn)
        [result] = conversation_batch_ingest(
            project=self.project_key.project, conversations=[payload]
        )
        if result.status == FAILED:
            raise InvalidInput(result.error["message"])
        code = status.HTTP_201_CREATED if result.status == CREATED else status.HTTP_200_OK
        return Response(_result_dict(result), status=code)


class ConversationBatchApi(SecretKeyApiView):
    @extend_schema(
        operation_id="conversation_batch_create",
        summary="Log up to 1,000 conversations",
        description=(
            "Each item is written whole or not at all and gets its own result, in order. "
            "Duplicate conversation ids inside one batch reject the whole batch."
        ),
        request=BatchIn,
        responses={200: BatchResultSerializer, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        limit = MAX_BATCH_CONVERSATIONS
        body = read_json_body(request)
        batch = None
        if not has_nul_escape(body):
            try:
                # The common case, every item valid, validates in one pass over the JSON.
                batch = parse_payload(body, BatchIn)
            except ValidationError:
                batch = None
        if batch is not None:
            self._check_size(len(batch.conversations), limit)
            valid = list(enumerate(batch.conversations))
            results: list[dict[str, Any] | None] = [None] * len(valid)
        else:
            try:
                envelope = parse_payload(body, BatchEnvelope)
            except ValidationError as exc:
                for error in exc.errors(include_url=False, include_input=False):
                    if error["type"] == "too_long" and error["loc"] == ("conversations",):
                        self._check_size(error["ctx"]["actual_length"], limit)
                raise
            valid, results = self._validate_items(envelope.conversations)
        self._check_unique(valid)

        written = conversation_batch_ingest(
            project=self.project_key.project, conversations=[item for _, item in valid]
        )
        for (index, _), result in zip(valid, written, strict=True):
            entry = {"index": index, **_result_dict(result)}
            if result.status == FAILED:
                entry["error"] = result.error
            results[index] = entry
        counts = {"created": 0, "existed": 0, "error": 0}
        for entry in results:
            counts[entry["status"]] += 1
        body = {
            "created": counts["created"],
            "existed": counts["existed"],
            "failed": counts["error"],
            "messages_created": sum(entry["messages_created"] for entry in results),
            "results": results,
        }
        return Response(body, status=status.HTTP_200_OK)

    @extend_schema(exclude=True)
    def get(self, request: Request) -> Response:
        # This route shadows the conversation whose id is "batch": read it here.
        conversation = conversation_get(project=self.project_key.project, external_id="batch")
        return Response(ConversationOutputSerializer(conversation).data)

    @staticmethod
    def _check_size(size: int, limit: int) -> None:
        if size > limit:
            raise InvalidInput(
                f"A batch holds at most {limit} conversations; this one has {size}.",
                fields={"conversations": [f"at most {limit} items"]},
            )

    @staticmethod
    def _validate_items(
        items: list[dict[str, Any]],
    ) -> tuple[list[tuple[int, ConversationIn]], list[dict[str, Any] | None]]:
        results: list[dict[str, Any] | None] = [None] * len(items)
        valid: list[tuple[int, ConversationIn]] = []
        for index, item in enumerate(items):
            fields = nul_fields(item)
            if not fields:
                try:
                    valid.append((index, ConversationIn.model_validate(item)))
                    continue
                except ValidationError as exc:
                    fields = validation_fields(exc)
            raw_id = item.get("id")
            results[index] = {
                "index": index,
                "id": raw_id if isinstance(raw_id, str) and "\x00" not in raw_id else "",
                "status": FAILED,
                "messages_created": 0,
                "error": {
                    "code": "invalid",
                    "message": "This conversation is not valid.",
                    "fields": fields,
                },
            }
        return valid, results

    @staticmethod
    def _check_unique(valid: list[tuple[int, ConversationIn]]) -> None:
        first_index: dict[str, int] = {}
        duplicates: dict[str, list[str]] = {}
        for index, item in valid:
            if item.id in first_index:
                duplicates[f"conversations.{index}.id"] = [
                    f"duplicate of conversations.{first_index[item.id]}.id"
                ]
            first_index.setdefault(item.id, index)
        if duplicates:
            raise InvalidInput("Conversation ids must be unique within a batch.", fields=duplicates)


class ConversationDetailApi(SecretKeyApiView):
    @extend_schema(
        operation_id="conversation_retrieve",
        summary="A conversation with its messages and feedback",
        responses={200: ConversationOutputSerializer, 404: ErrorSerializer, **ERRORS},
    )
    def get(self, request: Request, external_id: str) -> Response:
        conversation = conversation_get(project=self.project_key.project, external_id=external_id)
        return Response(ConversationOutputSerializer(conversation).data)


class FeedbackCreateApi(SecretKeyApiView):
    @extend_schema(
        operation_id="feedback_create",
        summary="Record an end user's vote on an answer",
        description=(
            "One vote per (message, user): a second vote replaces the first (200). "
            "Rating an unknown conversation or message is a 404."
        ),
        request=FeedbackIn,
        responses={
            201: FeedbackOutputSerializer,
            200: FeedbackOutputSerializer,
            404: ErrorSerializer,
            **ERRORS,
        },
    )
    def post(self, request: Request) -> Response:
        payload = read_payload(request, FeedbackIn)
        project = self.project_key.project
        _check_reasons(project, rating=payload.rating, reasons=payload.reasons)
        vote = feedback_submit(
            project=project,
            conversation_id=payload.conversation,
            message_id=payload.message,
            end_user=payload.user,
            rating=payload.rating,
            reasons=payload.reasons,
            comment=payload.comment,
            source=Feedback.Source.API,
        )
        code = status.HTTP_201_CREATED if vote.created else status.HTTP_200_OK
        return Response(feedback_data(vote), status=code)


def _check_reasons(project: Project, *, rating: str, reasons: list[str]) -> None:
    """A backend's vote names the project's reasons, on a thumbs-down only (the widget's
    votes drop others instead: a browser's queued vote must not be lost)."""
    if not reasons:
        return
    if rating != "down":
        raise InvalidInput(
            "Reasons go with a thumbs-down.", fields={"reasons": ["only on a thumbs-down"]}
        )
    offered = [reason["slug"] for reason in project_reasons(project)]
    unknown = [reason for reason in reasons if reason not in offered]
    if unknown:
        raise InvalidInput(
            f"Unknown reasons: {', '.join(unknown)}.",
            fields={"reasons": [f"one of the project's reasons: {', '.join(offered)}"]},
        )


class ProjectApi(SecretKeyApiView):
    @extend_schema(
        operation_id="project_retrieve",
        summary="The project the key belongs to",
        responses={200: dict, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        project = self.project_key.project
        return Response(
            {
                "slug": project.slug,
                "name": project.name,
                "allowed_origins": project.allowed_origins,
                "feedback_reasons": project.feedback_reasons,
                "require_signed_feedback": project.require_signed_feedback,
                # The backend signs feedback tokens with it; only secret keys can read it.
                "feedback_signing_secret": project.feedback_signing_secret,
            }
        )


class DailyStatsApi(SecretKeyApiView):
    @extend_schema(
        operation_id="metrics_daily",
        summary="Answers and votes per day, model and prompt version",
        responses={200: DailyStatsSerializer(many=True), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        rows = daily_stats_list(project=self.project_key.project)
        return Response(DailyStatsSerializer(rows, many=True).data)
