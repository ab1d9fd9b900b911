from typing import Any

from django.http import HttpRequest

from annotations.models import Membership


def project_role(request: HttpRequest) -> dict[str, Any]:
    """The user's role in the project of the page, for showing only the allowed actions."""
    role = getattr(request, "project_role", None)
    return {
        "project_role": role,
        "is_project_admin": role == Membership.Role.ADMIN,
        "is_project_reviewer": role in (Membership.Role.ADMIN, Membership.Role.REVIEWER),
    }
