"""Who may see what in the reviewer UI: every page is scoped to one project."""

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest

from annotations.models import Membership, Project
from annotations.selectors import membership_role

# What each role may do; admins do everything in their project.
ROLE_RANK = {Membership.Role.VIEWER: 0, Membership.Role.REVIEWER: 1, Membership.Role.ADMIN: 2}


def project_for(request: HttpRequest, slug: str, *, role: str = Membership.Role.VIEWER) -> Project:
    """The project named in the URL if the user may act in it with `role`.

    Outsiders get a 404 (no hint that the project exists); members below the role a 403.
    """
    project = Project.objects.filter(slug=slug).first()
    user: AbstractBaseUser = request.user
    current = membership_role(user=user, project=project) if project else None
    if project is None or current is None:
        raise Http404("No such project.")
    if ROLE_RANK[current] < ROLE_RANK[role]:
        raise PermissionDenied("Your role in this project does not allow this.")
    request.project_role = current
    return project


def can(request: HttpRequest, role: str) -> bool:
    """In templates and views: whether the current project role reaches `role`."""
    current = getattr(request, "project_role", None)
    return current is not None and ROLE_RANK[current] >= ROLE_RANK[role]
