from django.http import HttpRequest
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed

from annotations.models import ProjectKey
from annotations.selectors import project_key_resolve
from annotations.services.projects import project_key_used


class ProjectKeyAuthentication(BaseAuthentication):
    """``Authorization: Bearer sk_...``: the request acts for the key's project.

    request.user stays None (no human is involved); request.auth is the ProjectKey.
    """

    def authenticate(self, request: HttpRequest) -> tuple[None, ProjectKey] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, raw_key = header.partition(" ")
        raw_key = raw_key.strip()
        if scheme.lower() != "bearer" or not raw_key:
            raise AuthenticationFailed("Send the key as 'Authorization: Bearer sk_...'.")
        key = project_key_resolve(raw_key=raw_key)
        if key is None:
            raise AuthenticationFailed("Unknown or revoked key.")
        project_key_used(key)
        return (None, key)

    def authenticate_header(self, request: HttpRequest) -> str:
        return 'Bearer realm="api"'


class ProjectKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = ProjectKeyAuthentication
    name = "secretKey"

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "A project secret key, sk_..."}
