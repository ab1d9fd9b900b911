"""The browser-facing widget endpoints, authenticated by a project's public key.

CORS: a preflight cannot carry the key, so it is answered for any origin that some
project allows; the real request is then checked against the key's own project,
and refused (403, no CORS headers) from any other origin. Credentials are never
allowed. Rate limits apply per public key and per client address.
"""

import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle
from rest_framework.views import APIView

from annotations.errors import DomainError, Forbidden
from annotations.feedback_reasons import project_reasons
from annotations.keys import PUBLIC_PREFIX, feedback_token_valid
from annotations.models import Feedback, Project, ProjectKey
from annotations.payloads import FeedbackIn, WidgetWithdrawIn
from annotations.selectors import origin_allowed_anywhere, project_key_resolve
from annotations.services.feedback import feedback_submit, feedback_withdraw

from .serializers import ErrorSerializer, FeedbackOutputSerializer
from .views import read_payload

KEY_HEADER = "HTTP_X_PROJECT_KEY"


def cors_allow_widget_request(sender: Any, request: HttpRequest, **kwargs: Any) -> bool:
    """django-cors-headers hook: decide whether this widget request gets CORS headers."""
    if not request.path.startswith("/api/v1/widget/"):
        return False
    origin = request.headers.get("Origin", "")
    if request.method == "OPTIONS" or not request.META.get(KEY_HEADER):
        return origin_allowed_anywhere(origin)
    key = request_public_key(request)
    return key is not None and origin in key.project.allowed_origins


def request_public_key(request: HttpRequest) -> ProjectKey | None:
    """The active public key the request carries, looked up once per request."""
    if not hasattr(request, "_widget_public_key"):
        raw_key = request.META.get(KEY_HEADER, "").strip()
        key = project_key_resolve(raw_key=raw_key) if raw_key.startswith(PUBLIC_PREFIX) else None
        if key is not None and key.kind != ProjectKey.Kind.PUBLIC:
            key = None
        request._widget_public_key = key
    return request._widget_public_key


class PublicKeyAuthentication(BaseAuthentication):
    """``X-Project-Key: pk_...``; the request may then only send end-user feedback."""

    def authenticate(self, request: HttpRequest) -> tuple[None, ProjectKey] | None:
        if not request.META.get(KEY_HEADER, "").strip():
            return None
        key = request_public_key(request._request)
        if key is None:
            raise AuthenticationFailed("Unknown or revoked public key.")
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


class FixedWindowThrottle(BaseThrottle):
    """N requests per window, counted atomically in the cache (Redis INCR in production).

    DRF's SimpleRateThrottle keeps a list of timestamps and writes it back on every
    request, which loses counts between concurrent workers and grows with the rate.
    """

    rate_setting = ""

    def allow_request(self, request: Request, view: Any) -> bool:
        bucket = self.bucket(request)
        if bucket is None:
            return True
        limit, window = SimpleRateThrottle.parse_rate(None, getattr(settings, self.rate_setting))
        now = time.time()
        window_start = int(now // window * window)
        self.retry_after = window_start + window - now
        key = f"throttle:{bucket}:{window_start}"
        # One round trip in the common case: the window's counter already exists.
        try:
            count = cache.incr(key)
        except ValueError:
            # First request of the window; another may create it at the same moment.
            count = 1 if cache.add(key, 1, timeout=window + 1) else cache.incr(key)
        return count <= limit

    def wait(self) -> float:
        return self.retry_after

    def bucket(self, request: Request) -> str | None:
        raise NotImplementedError


class PublicKeyRateThrottle(FixedWindowThrottle):
    rate_setting = "WIDGET_RATE_PER_KEY"

    def bucket(self, request: Request) -> str | None:
        key = request.auth
        return f"widget:key:{key.pk}" if isinstance(key, ProjectKey) else None


class ClientRateThrottle(FixedWindowThrottle):
    rate_setting = "WIDGET_RATE_PER_CLIENT"

    def bucket(self, request: Request) -> str | None:
        key = request.auth
        project = key.project_id if isinstance(key, ProjectKey) else "none"
        return f"widget:client:{project}:{self.get_ident(request)}"


class WidgetApiView(APIView):
    authentication_classes = [PublicKeyAuthentication]
    permission_classes = [HasPublicKey]
    throttle_classes = [PublicKeyRateThrottle, ClientRateThrottle]

    @property
    def project(self) -> Project:
        return self.request.auth.project

    def check_origin(self, request: Request) -> None:
        origin = request.headers.get("Origin")
        if origin is None:
            raise Forbidden("Public keys are for browsers: the request must carry an Origin.")
        if origin not in self.project.allowed_origins:
            raise Forbidden(
                f"The origin {origin} is not allowed for this project.",
                fields={"origin": ["add it to the project's widget origins"]},
            )

    def check_token(self, *, token: str | None, conversation: str, message: str, user: str) -> None:
        if not self.project.require_signed_feedback:
            return
        valid = bool(token) and feedback_token_valid(
            secret=self.project.feedback_signing_secret,
            token=token,
            conversation_id=conversation,
            message_id=message,
            user=user,
        )
        if not valid:
            raise TokenRejected(
                "This project requires a valid feedback token for the conversation, "
                "message and user.",
                fields={"token": ["missing or invalid"]},
            )

    def check_body_size(self, request: Request) -> None:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
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
        self.check_token(
            token=payload.token,
            conversation=payload.conversation,
            message=payload.message,
            user=payload.user,
        )
        feedback, created = feedback_submit(
            project=self.project,
            conversation_id=payload.conversation,
            message_id=payload.message,
            end_user=payload.user,
            rating=payload.rating,
            reasons=payload.reasons,
            comment=payload.comment,
            source=Feedback.Source.WIDGET,
        )
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(FeedbackOutputSerializer(feedback).data, status=code)

    @extend_schema(
        operation_id="widget_feedback_withdraw",
        summary="Withdraw an end user's vote",
        parameters=[KEY_PARAMETER],
        request=WidgetWithdrawIn,
        responses={204: None, 403: ErrorSerializer, 404: ErrorSerializer, 429: ErrorSerializer},
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
    # Reading the configuration is cheap and public; votes are what the limits protect.
    throttle_classes = [ClientRateThrottle]

    @extend_schema(
        operation_id="widget_config",
        summary="The reasons the widget offers and whether votes must be signed",
        parameters=[KEY_PARAMETER],
        responses={200: dict},
    )
    def get(self, request: Request) -> Response:
        return Response(
            {
                "reasons": project_reasons(self.project),
                "require_token": self.project.require_signed_feedback,
            }
        )
