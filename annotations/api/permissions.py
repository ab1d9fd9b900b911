from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from annotations.models import ProjectKey


class HasSecretKey(BasePermission):
    """Only a project's secret key; public keys may submit widget feedback and nothing else."""

    message = (
        "This endpoint needs a secret key (sk_...); public keys can only send widget feedback."
    )

    def has_permission(self, request: Request, view: Any) -> bool:
        key = request.auth
        return isinstance(key, ProjectKey) and key.kind == ProjectKey.Kind.SECRET
