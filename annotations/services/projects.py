from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from annotations.errors import Conflict, InvalidInput
from annotations.keys import PUBLIC_PREFIX, SECRET_PREFIX, key_display, key_generate, key_hash
from annotations.models import Membership, Project, ProjectKey


@transaction.atomic
def project_create(
    *, slug: str, name: str, created_by: AbstractBaseUser | None = None
) -> tuple[Project, str, str]:
    """Create a project with one secret and one public key; return the raw keys once."""
    if not slug or slugify(slug) != slug:
        raise InvalidInput(
            "A project slug may hold only lowercase letters, digits, hyphens and underscores.",
            fields={"slug": ["Use lowercase letters, digits, '-' and '_'."]},
        )
    if Project.objects.filter(slug=slug).exists():
        raise Conflict(f"A project with slug {slug!r} already exists.", fields={"slug": ["taken"]})
    project = Project.objects.create(slug=slug, name=name or slug)
    _, secret_key = project_key_create(
        project=project, kind=ProjectKey.Kind.SECRET, name="default", created_by=created_by
    )
    _, public_key = project_key_create(
        project=project, kind=ProjectKey.Kind.PUBLIC, name="default", created_by=created_by
    )
    if created_by is not None:
        Membership.objects.create(project=project, user=created_by, role=Membership.Role.ADMIN)
    return project, secret_key, public_key


@transaction.atomic
def project_key_create(
    *,
    project: Project,
    kind: str,
    name: str = "",
    created_by: AbstractBaseUser | None = None,
) -> tuple[ProjectKey, str]:
    """Create a key; the raw value is returned here and never stored."""
    public = kind == ProjectKey.Kind.PUBLIC
    raw_key = key_generate(prefix=PUBLIC_PREFIX if public else SECRET_PREFIX)
    key = ProjectKey.objects.create(
        project=project,
        kind=kind,
        name=name,
        display=key_display(raw_key, public=public),
        key_hash=key_hash(raw_key),
        created_by=created_by,
    )
    return key, raw_key


@transaction.atomic
def project_key_revoke(*, key: ProjectKey) -> ProjectKey:
    """Revoke a key at once; requests carrying it are refused from now on."""
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key


@transaction.atomic
def membership_set(*, project: Project, user: AbstractBaseUser, role: str) -> Membership:
    """Give a user a role in a project, replacing any role they had."""
    if role not in Membership.Role.values:
        raise InvalidInput(f"Unknown role {role!r}.", fields={"role": ["unknown role"]})
    membership, _ = Membership.objects.update_or_create(
        project=project, user=user, defaults={"role": role}
    )
    return membership
