import ipaddress
import math
import time

import idna
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from annotations.errors import Conflict, InvalidInput
from annotations.keys import (
    PUBLIC_PREFIX,
    SECRET_PREFIX,
    key_display,
    key_generate,
    key_hash,
    signing_secret_generate,
)
from annotations.models import Claim, Membership, Project, ProjectKey, Queue
from annotations.selectors import ALLOWED_ORIGINS_CACHE_KEY
from annotations.services.rubrics import rubric_create_default


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
    project = Project.objects.create(
        slug=slug, name=name or slug, feedback_signing_secret=signing_secret_generate()
    )
    _, secret_key = project_key_create(
        project=project, kind=ProjectKey.Kind.SECRET, name="default", created_by=created_by
    )
    _, public_key = project_key_create(
        project=project, kind=ProjectKey.Kind.PUBLIC, name="default", created_by=created_by
    )
    if created_by is not None:
        Membership.objects.create(project=project, user=created_by, role=Membership.Role.ADMIN)
    rubric_create_default(project=project, created_by=created_by)
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
    current = Membership.objects.select_for_update().filter(project=project, user=user).first()
    if (
        current is not None
        and current.role == Membership.Role.ADMIN
        and role != Membership.Role.ADMIN
        and not Membership.objects.filter(project=project, role=Membership.Role.ADMIN)
        .exclude(pk=current.pk)
        .exists()
    ):
        raise InvalidInput("A project keeps at least one admin.", fields={"role": ["last admin"]})
    membership, _ = Membership.objects.update_or_create(
        project=project, user=user, defaults={"role": role}
    )
    if role not in LABELING_ROLES:
        _labeling_withdraw(project=project, user=user)
    return membership


# The roles that label; queues are assigned to members in them.
LABELING_ROLES = (Membership.Role.ADMIN, Membership.Role.REVIEWER)


def _labeling_withdraw(*, project: Project, user: AbstractBaseUser) -> None:
    """Take a user who may no longer label off the project's queues, and give back the
    items they hold, at once rather than when their leases expire."""
    Queue.reviewers.through.objects.filter(queue__project=project, user=user).delete()
    Claim.objects.filter(item__queue__project=project, reviewer=user).delete()


@transaction.atomic
def project_signing_secret_rotate(*, project: Project) -> str:
    """Replace the feedback signing secret; tokens signed with the old one stop working."""
    project.feedback_signing_secret = signing_secret_generate()
    project.save(update_fields=["feedback_signing_secret", "updated_at"])
    return project.feedback_signing_secret


@transaction.atomic
def project_widget_settings_update(
    *,
    project: Project,
    allowed_origins: list[str],
    feedback_reasons: list[dict],
    require_signed_feedback: bool,
) -> Project:
    """Set where the widget may run, the reasons it offers and whether votes must be signed."""
    origins = [origin_normalize(origin) for origin in allowed_origins]
    project.allowed_origins = list(dict.fromkeys(origins))
    project.feedback_reasons = feedback_reasons
    project.require_signed_feedback = require_signed_feedback
    if require_signed_feedback and not project.feedback_signing_secret:
        project.feedback_signing_secret = signing_secret_generate()
    project.save()
    transaction.on_commit(lambda: cache.delete(ALLOWED_ORIGINS_CACHE_KEY))
    return project


def origin_normalize(origin: str) -> str:
    """An origin as browsers send it in the Origin header: `https://Chat.Example.com:443/`
    -> `https://chat.example.com`, `https://한국.kr` -> `https://xn--3e0b707e.kr`,
    `http://[::1]:8000` kept with its brackets. Raises InvalidInput if not an origin."""
    from urllib.parse import urlsplit

    def refuse(why: str = "") -> InvalidInput:
        return InvalidInput(
            f"{origin!r} is not an origin such as https://chat.example.com{why}",
            fields={"allowed_origins": [f"not an origin: {origin}"]},
        )

    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise refuse()
    if parts.query or parts.fragment or parts.username or parts.password is not None:
        raise refuse()
    try:
        port = parts.port
    except ValueError:
        raise refuse(" (the port is not a number from 0 to 65535)") from None
    host = parts.hostname.lower()
    if ":" in host:
        try:
            host = f"[{ipaddress.IPv6Address(host).compressed}]"
        except ValueError:
            raise refuse(" (not an IPv6 address)") from None
    elif not host.isascii():
        try:
            # UTS #46, non-transitional, as browsers write host names: faß.de is
            # xn--fa-hia.de, not fass.de.
            host = idna.encode(host, uts46=True, transitional=False).decode("ascii")
        except idna.IDNAError:
            raise refuse(" (the host name cannot be written in ASCII)") from None
    default_port = {"http": 80, "https": 443}[parts.scheme]
    suffix = f":{port}" if port is not None and port != default_port else ""
    return f"{parts.scheme}://{host}{suffix}"


@transaction.atomic
def membership_remove(*, project: Project, user: AbstractBaseUser) -> None:
    """Take a user out of a project; the last admin cannot be removed."""
    membership = Membership.objects.select_for_update().filter(project=project, user=user).first()
    if membership is None:
        return
    if (
        membership.role == Membership.Role.ADMIN
        and not Membership.objects.filter(project=project, role=Membership.Role.ADMIN)
        .exclude(pk=membership.pk)
        .exists()
    ):
        raise InvalidInput("A project keeps at least one admin.", fields={"user": ["last admin"]})
    membership.delete()
    _labeling_withdraw(project=project, user=user)


# A key's last use is written at most this often per process: the settings page says
# "used within minutes", and a busy key costs one UPDATE per interval, not per request.
KEY_USE_WRITE_SECONDS = 300
_key_use_written: dict[tuple[int, object], float] = {}


def project_key_used(key: ProjectKey) -> None:
    """Record that a request authenticated with the key (throttled, see above)."""
    now = time.monotonic()
    # With its creation time: a test database may give a new key an old key's id.
    remembered = (key.pk, key.created_at)
    if now - _key_use_written.get(remembered, -math.inf) < KEY_USE_WRITE_SECONDS:
        return
    if len(_key_use_written) >= 10_000:
        _key_use_written.clear()
    _key_use_written[remembered] = now
    # update(): no post_save, which would make every process read the keys again.
    ProjectKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
