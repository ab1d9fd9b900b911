"""One error shape for the whole API: {"error": {"code", "message", "fields"}}."""

from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.db import DataError, OperationalError
from django.http import Http404, HttpRequest, JsonResponse
from pydantic import ValidationError as PydanticValidationError
from rest_framework import exceptions
from rest_framework.response import Response

from annotations.errors import DomainError
from annotations.payloads import validation_fields


def error_body(code: str, message: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    if isinstance(detail, dict):
        fields: dict[str, list[str]] = {}
        for key, value in detail.items():
            name = "body" if key == "non_field_errors" and not prefix else f"{prefix}{key}"
            fields.update(_flatten(value, f"{name}."))
        return fields
    if isinstance(detail, list) and detail and isinstance(detail[0], dict | list):
        fields = {}
        for index, value in enumerate(detail):
            fields.update(_flatten(value, f"{prefix}{index}."))
        return fields
    items = detail if isinstance(detail, list) else [detail]
    return {prefix.rstrip(".") or "body": [str(item) for item in items]}


_CODES = {
    exceptions.ParseError: "malformed_json",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",
}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        return Response(error_body(exc.code, exc.message, exc.fields), status=exc.status)
    if isinstance(exc, DataError):
        # A value the database cannot hold that validation let through; its own
        # words stay out of the answer.
        return Response(
            error_body("invalid", "A value in the request cannot be stored."), status=400
        )
    if isinstance(exc, OperationalError):
        # The database is unreachable or busy (a lost connection, a lock timeout):
        # nothing was written, and the same request will succeed later.
        return Response(
            error_body("unavailable", "The database is unavailable; try again shortly."),
            status=503,
            headers={"Retry-After": "5"},
        )
    if isinstance(exc, PydanticValidationError):
        fields = validation_fields(exc)
        return Response(error_body("invalid", "The request is not valid.", fields), status=400)
    if isinstance(exc, RequestDataTooBig):
        return Response(
            error_body("payload_too_large", "The request body is over the size limit."),
            status=413,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None

    headers: dict[str, str] = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait) + 1)
    if isinstance(exc, exceptions.ValidationError):
        body = error_body("invalid", "The request is not valid.", _flatten(exc.detail))
    else:
        code = _CODES.get(type(exc), getattr(exc, "default_code", "error"))
        body = error_body(code, str(exc.detail))
    return Response(body, status=exc.status_code, headers=headers)


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def json_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse | None:
    if not _wants_json(request):
        return None
    return JsonResponse(error_body("not_found", "No such endpoint."), status=404)


def json_server_error(request: HttpRequest) -> JsonResponse | None:
    if not _wants_json(request):
        return None
    return JsonResponse(error_body("server_error", "An unexpected error occurred."), status=500)
