"""The browser-facing widget endpoints, authenticated by a project's public key.

CORS: a preflight cannot carry the key, so it is answered for any origin that some
project allows; the real request is then checked against the key's own project,
and refused (403, no CORS headers) from any other origin. Credentials are never
allowed. Rate limits apply per public key and per client address.
"""

from typing import Any

import orjson
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DataError
from django.http import HttpRequest, HttpResponse
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from pydantic import ValidationError
from rest_framework import status
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle

from annotations.errors import DomainError, Forbidden, InvalidInput
from annotations.feedback_reasons import project_reasons
from annotations.keys import feedback_token_valid
from annotations.models import Feedback, Project, ProjectKey
from annotations.payloads import FeedbackIn, WidgetWithdrawIn, has_nul_escape
from annotations.selectors import origin_allowed_anywhere
from annotations.services.feedback import RecordedVote, feedback_submit, feedback_withdraw
from annotations.services.projects import project_key_used
from annotations.widget_gate import KEY_HEADER, public_key_for, widget_hits

from .serializers import ErrorSerializer, FeedbackOutputSerializer, feedback_data
from .views import KeyApiView, read_payload


def cors_allow_widget_request(sender: Any, request: HttpRequest, **kwargs: Any) -> bool:
    """django-cors-headers hook: decide whether this widget request gets CORS headers."""
    if not request.path.startswith("/api/v1/widget/"):
        return False
    origin = request.headers.get("Origin", "")
    if request.method == "OPTIONS" or not request.META.get(KEY_HEADER):
        return origin_allowed_anywhere(origin)
    if not widget_hits(request).client_allowed:
        # Refused (429) before the key lookup, since made-up keys must not cost a query
        # each; an origin some project allows may still read the answer and its
        # Retry-After, as a preflight from it may.
        return origin_allowed_anywhere(origin)
    key = public_key_for(request)
    return key is not None and origin in key.project.allowed_origins


class PublicKeyAuthentication(BaseAuthentication):
    """``X-Project-Key: pk_...``; the request may then only send end-user feedback."""

    def authenticate(self, request: HttpRequest) -> tuple[None, ProjectKey] | None:
        if not request.META.get(KEY_HEADER, "").strip():
            return None
        hits = widget_hits(request._request)
        if not hits.client_allowed:
            # Before the key is looked up: made-up keys are counted and refused too.
            raise Throttled(wait=hits.retry_after)
        key = public_key_for(request._request)
        if key is None:
            raise AuthenticationFailed("Unknown or revoked public key.")
        project_key_used(key)
        return (None, key)

    def authenticate_header(self, request: HttpRequest) -> str:
        return 'X-Project-Key realm="widget"'


class PublicKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = PublicKeyAuthentication
    name = "publicKey"

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "X-Project-Key",
            "description": "A project public key, pk_...; only for the widget endpoints.",
        }


class HasPublicKey(BasePermission):
    message = "Send the project's public key in the X-Project-Key header."

    def has_permission(self, request: Request, view: Any) -> bool:
        key = request.auth
        return isinstance(key, ProjectKey) and key.kind == ProjectKey.Kind.PUBLIC


class WidgetRateThrottle(BaseThrottle):
    """The per-key and per-client windows, counted with the key lookup in one round trip."""

    def allow_request(self, request: Request, view: Any) -> bool:
        self.hits = widget_hits(request._request)
        return self.hits.allowed

    def wait(self) -> float:
        return self.hits.retry_after


class WidgetApiView(KeyApiView):
    authentication_classes = [PublicKeyAuthentication]
    permission_classes = [HasPublicKey]
    throttle_classes = [WidgetRateThrottle]

    @property
    def project(self) -> Project:
        return self.request.auth.project

    def check_origin(self, request: Request) -> None:
        origin_check(self.project, request.META.get("HTTP_ORIGIN"))

    def check_token(self, *, token: str | None, conversation: str, message: str, user: str) -> None:
        token_check(
            self.project, token=token, conversation=conversation, message=message, user=user
        )

    def check_body_size(self, request: Request) -> None:
        body_size_check(request.META)


def vote_record(project: Project, payload: FeedbackIn) -> RecordedVote:
    """Check the vote's token and record it (raises DomainError when refused)."""
    token_check(
        project,
        token=payload.token,
        conversation=payload.conversation,
        message=payload.message,
        user=payload.user,
    )
    return feedback_submit(
        project=project,
        conversation_id=payload.conversation,
        message_id=payload.message,
        end_user=payload.user,
        rating=payload.rating,
        reasons=offered_reasons(project, rating=payload.rating, reasons=payload.reasons),
        comment=payload.comment,
        source=Feedback.Source.WIDGET,
    )


def origin_check(project: Project, origin: str | None) -> None:
    if origin is None:
        raise Forbidden("Public keys are for browsers: the request must carry an Origin.")
    if origin not in project.allowed_origins:
        raise Forbidden(
            f"The origin {origin} is not allowed for this project.",
            fields={"origin": ["add it to the project's widget origins"]},
        )


def token_check(
    project: Project, *, token: str | None, conversation: str, message: str, user: str
) -> None:
    if not project.require_signed_feedback:
        return
    valid = bool(token) and feedback_token_valid(
        secret=project.feedback_signing_secret,
        token=token,
        conversation_id=conversation,
        message_id=message,
        user=user,
    )
    if not valid:
        raise TokenRejected(
            "This project requires a valid feedback token for the conversation, message and user.",
            fields={"token": ["missing or invalid"]},
        )


def offered_reasons(project: Project, *, rating: str, reasons: list[str]) -> list[str]:
    """The reasons kept with the vote: the project's own, and only on a thumbs-down.

    Others are dropped rather than refused: a vote queued in a browser may carry a
    reason the project has since removed (or the widget's defaults, when it could
    not read the project's list), and the vote and its comment must not be lost.
    """
    if not reasons or rating != "down":
        return []
    offered = {reason["slug"] for reason in project_reasons(project)}
    return [reason for reason in reasons if reason in offered]


def body_size_check(meta: dict[str, Any]) -> None:
    try:
        length = int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise InvalidInput("The Content-Length header is not a number.") from None
    if length > settings.WIDGET_MAX_BODY_BYTES:
        raise PayloadTooLarge(
            f"A widget request body holds at most {settings.WIDGET_MAX_BODY_BYTES} bytes."
        )


class TokenRejected(DomainError):
    status = 403
    code = "invalid_token"


class PayloadTooLarge(DomainError):
    status = 413
    code = "payload_too_large"


KEY_PARAMETER = OpenApiParameter(
    "X-Project-Key", str, OpenApiParameter.HEADER, required=True, description="pk_..."
)


class WidgetFeedbackApi(WidgetApiView):
    @extend_schema(
        operation_id="widget_feedback_create",
        summary="An end user's vote, sent by the widget with a public key",
        parameters=[KEY_PARAMETER],
        request=FeedbackIn,
        responses={
            201: FeedbackOutputSerializer,
            200: FeedbackOutputSerializer,
            400: ErrorSerializer,
            401: OpenApiResponse(ErrorSerializer, description="No public key, or not a live one."),
            403: OpenApiResponse(ErrorSerializer, description="Origin or token refused."),
            404: ErrorSerializer,
            413: ErrorSerializer,
            429: ErrorSerializer,
        },
    )
    def post(self, request: Request) -> Response:
        self.check_origin(request)
        self.check_body_size(request)
        payload = read_payload(request, FeedbackIn)
        vote = vote_record(self.project, payload)
        code = status.HTTP_201_CREATED if vote.created else status.HTTP_200_OK
        return Response(feedback_data(vote), status=code)

    @extend_schema(
        operation_id="widget_feedback_withdraw",
        summary="Withdraw an end user's vote",
        parameters=[KEY_PARAMETER],
        request=WidgetWithdrawIn,
        responses={
            204: None,
            400: ErrorSerializer,
            401: ErrorSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
            429: ErrorSerializer,
        },
    )
    def delete(self, request: Request) -> Response:
        self.check_origin(request)
        self.check_body_size(request)
        payload = read_payload(request, WidgetWithdrawIn)
        self.check_token(
            token=payload.token,
            conversation=payload.conversation,
            message=payload.message,
            user=payload.user,
        )
        feedback_withdraw(
            project=self.project,
            conversation_id=payload.conversation,
            message_id=payload.message,
            end_user=payload.user,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class WidgetConfigApi(WidgetApiView):
    @extend_schema(
        operation_id="widget_config",
        summary="The reasons the widget offers and whether votes must be signed",
        parameters=[KEY_PARAMETER],
        responses={200: dict, 401: ErrorSerializer},
    )
    def get(self, request: Request) -> Response:
        return Response(
            {
                "reasons": project_reasons(self.project),
                "require_token": self.project.require_signed_feedback,
            }
        )


# What the DRF view's answer to a vote carries besides the body (APIView's default
# headers); the middlewares above add the rest to either answer.
_VOTE_HEADERS = {"Allow": "POST, DELETE, OPTIONS"}


def vote_fast_response(request: HttpRequest) -> HttpResponse | None:
    """The answer to a vote that is in order in every respect, built without DRF.

    Votes are the widget's hot path, and DRF's request, authentication, permission,
    throttle and rendering objects cost about as much CPU as the vote's own work. The
    steps are the view's, in its order, on the same functions: the rate-limit count
    and the key lookup are remembered on the request, and the body is read once. At
    the first thing not in order this returns None having written nothing, and the
    DRF view answers, with the precise error.
    """
    if not request.META.get(KEY_HEADER, "").strip():
        return None
    if not widget_hits(request).allowed:
        return None
    key = public_key_for(request)
    content_type = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    if key is None or content_type != "application/json":
        return None
    project_key_used(key)
    try:
        origin_check(key.project, request.META.get("HTTP_ORIGIN"))
        body_size_check(request.META)
        body = request.body
        if not body.strip() or has_nul_escape(body):
            return None
        payload = FeedbackIn.model_validate_json(body)
        vote = vote_record(key.project, payload)
    except (DomainError, ValidationError, RequestDataTooBig, DataError):
        # A DataError leaves nothing written: the upsert is one statement.
        return None
    response = HttpResponse(
        orjson.dumps(feedback_data(vote)),
        content_type="application/json",
        status=status.HTTP_201_CREATED if vote.created else status.HTTP_200_OK,
    )
    for header, value in _VOTE_HEADERS.items():
        response[header] = value
    # What CommonMiddleware and XFrameOptionsMiddleware, below this one, would add.
    response["Content-Length"] = str(len(response.content))
    response["X-Frame-Options"] = settings.X_FRAME_OPTIONS.upper()
    return response
