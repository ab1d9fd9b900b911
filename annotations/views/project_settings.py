"""Project settings for admins: members, API keys, the widget and the rubric.

One page with a section per topic. Every form posts to the page with an `action`;
a success redirects back to the section (post/redirect/get), an error renders the
page again with the submitted values and the errors in place. A new key is the
exception: the page answers the POST itself, the one place its raw value appears.
"""

import json
import re
import secrets
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language, gettext, gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from annotations.errors import InvalidInput
from annotations.feedback_reasons import DEFAULT_REASONS
from annotations.models import Membership, Project, ProjectKey
from annotations.rubrics import QUESTION_TYPES, questions_validate, text_of
from annotations.selectors import membership_list
from annotations.selectors_admin import (
    admin_count,
    membership_get,
    project_key_get,
    project_key_list,
    rubric_list,
    user_by_username,
)
from annotations.services.projects import (
    membership_remove,
    membership_set,
    origin_normalize,
    project_key_create,
    project_key_revoke,
    project_signing_secret_rotate,
    project_widget_settings_update,
)
from annotations.services.rubrics import rubric_publish
from annotations.views.access import project_for

# The raw value of a key just created, kept for exactly one page view.
REASON_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
MAX_REASON_LABEL = 100
MAX_REASONS = 20
TYPE_NAMES = {
    "rating": gettext_lazy("Rating scale"),
    "boolean": gettext_lazy("Yes / no"),
    "single_choice": gettext_lazy("Single choice"),
    "multi_choice": gettext_lazy("Multiple choice"),
    "text": gettext_lazy("Free text"),
    "corrected_answer": gettext_lazy("Corrected answer"),
    "pairwise": gettext_lazy("Pairwise preference"),
}

ROLE_LABELS = {
    Membership.Role.ADMIN: gettext_lazy("Admin"),
    Membership.Role.REVIEWER: gettext_lazy("Reviewer"),
    Membership.Role.VIEWER: gettext_lazy("Viewer"),
}

Handler = Callable[[HttpRequest, Project], HttpResponse]


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def project_settings(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_for(request, slug, role=Membership.Role.ADMIN)
    if request.method == "POST":
        handler = ACTIONS.get(request.POST.get("action", ""))
        if handler is None:
            return HttpResponseBadRequest(gettext("Unknown action."))
        return handler(request, project)
    return _render(request, project)


def _section_url(project: Project, section: str) -> str:
    return reverse("project-settings", kwargs={"slug": project.slug}) + f"#{section}"


def _render(
    request: HttpRequest,
    project: Project,
    *,
    members: dict[str, Any] | None = None,
    keys: dict[str, Any] | None = None,
    widget: dict[str, Any] | None = None,
    rubric: dict[str, Any] | None = None,
) -> HttpResponse:
    """The whole page; a section's dict replaces its defaults (submitted values, errors)."""
    context = {
        "project": project,
        "members": {**_members_context(request, project), **(members or {})},
        "keys": {**_keys_context(request, project), **(keys or {})},
        "widget": {**_widget_context(request, project), **(widget or {})},
        "rubric": {**_rubric_context(project), **(rubric or {})},
    }
    return render(request, "annotations/settings/project_settings.html", context)


def _language() -> str:
    return "ko" if (get_language() or "").startswith("ko") else "en"


# Members


def _members_context(request: HttpRequest, project: Project) -> dict[str, Any]:
    return {
        "list": membership_list(project=project),
        "roles": list(ROLE_LABELS.items()),
        "add_username": "",
        "add_role": Membership.Role.REVIEWER,
        "errors": [],
    }


def _member_add(request: HttpRequest, project: Project) -> HttpResponse:
    username = request.POST.get("username", "").strip()
    role = request.POST.get("role", "")
    user = user_by_username(username=username) if username else None
    error = ""
    if not username:
        error = gettext("Enter a username.")
    elif user is None:
        error = gettext(
            "There is no user named “%(username)s”. People need an account before they can be added."
        ) % {"username": username}
    elif membership_get(project=project, user_id=user.pk) is not None:
        error = gettext(
            "%(username)s is already a member; change their role in the list above."
        ) % {"username": user.get_username()}
    elif role not in Membership.Role.values:
        error = gettext("Choose a role.")
    if error:
        return _render(
            request,
            project,
            members={"add_username": username, "add_role": role, "errors": [error]},
        )
    membership_set(project=project, user=user, role=role)
    messages.success(
        request,
        gettext("%(username)s is now %(role)s in this project.")
        % {"username": user.get_username(), "role": ROLE_LABELS[role]},
    )
    return redirect(_section_url(project, "members"))


def _membership_from_post(request: HttpRequest, project: Project) -> Membership:
    try:
        user_id = int(request.POST.get("user_id", ""))
    except ValueError:
        raise Http404("No such member.") from None
    membership = membership_get(project=project, user_id=user_id)
    if membership is None:
        raise Http404("No such member.")
    return membership


def _member_role(request: HttpRequest, project: Project) -> HttpResponse:
    membership = _membership_from_post(request, project)
    role = request.POST.get("role", "")
    if role not in Membership.Role.values:
        return _render(request, project, members={"errors": [gettext("Choose a role.")]})
    demotes_last_admin = (
        membership.role == Membership.Role.ADMIN
        and role != Membership.Role.ADMIN
        and admin_count(project=project) <= 1
    )
    if demotes_last_admin:
        return _render(
            request,
            project,
            members={"errors": [gettext("A project keeps at least one admin.")]},
        )
    membership_set(project=project, user=membership.user, role=role)
    messages.success(
        request,
        gettext("%(username)s is now %(role)s in this project.")
        % {"username": membership.user.get_username(), "role": ROLE_LABELS[role]},
    )
    if membership.user_id == request.user.pk and role != Membership.Role.ADMIN:
        # Settings are for admins only: show the user a page they may still open.
        return redirect("conversation-list", slug=project.slug)
    return redirect(_section_url(project, "members"))


def _member_remove(request: HttpRequest, project: Project) -> HttpResponse:
    membership = _membership_from_post(request, project)
    try:
        membership_remove(project=project, user=membership.user)
    except InvalidInput:
        return _render(
            request,
            project,
            members={"errors": [gettext("A project keeps at least one admin.")]},
        )
    messages.success(
        request,
        gettext("%(username)s was removed from this project.")
        % {"username": membership.user.get_username()},
    )
    if membership.user_id == request.user.pk:
        return redirect("project-list")
    return redirect(_section_url(project, "members"))


# API keys


def _keys_context(request: HttpRequest, project: Project) -> dict[str, Any]:
    keys = project_key_list(project=project)
    revoke_candidate = None
    revoke_id = request.GET.get("revoke", "")
    if revoke_id.isdigit():
        revoke_candidate = next(
            (key for key in keys if key.pk == int(revoke_id) and key.is_active), None
        )
    # The plain, unhashed name: embedded on other sites, it must keep working as the
    # widget is updated (whitenoise serves it with a short cache lifetime).
    script_url = request.build_absolute_uri(settings.STATIC_URL + "annotations/feedback-widget.js")
    api_origin = request.build_absolute_uri("/").rstrip("/")
    for key in keys:
        key.embed_snippet = (
            f'<script src="{script_url}" data-project-key="{key.display}" '
            f'data-api-origin="{api_origin}" defer></script>'
            if key.kind == ProjectKey.Kind.PUBLIC and key.is_active
            else ""
        )
    return {
        "list": keys,
        "new_key": None,
        "revoke_candidate": revoke_candidate,
        "create_name": "",
        "create_kind": ProjectKey.Kind.SECRET,
        # One key per form shown: a reload resending the POST must not make another.
        "create_nonce": secrets.token_urlsafe(16),
        "errors": [],
    }


# How long a key form's nonce is remembered once used.
KEY_NONCE_SECONDS = 24 * 60 * 60


def _key_create(request: HttpRequest, project: Project) -> HttpResponse:
    kind = request.POST.get("kind", "")
    name = request.POST.get("name", "").strip()
    errors = []
    if kind not in ProjectKey.Kind.values:
        errors.append(gettext("Choose secret or public."))
    if len(name) > 100:
        errors.append(gettext("The name can have at most 100 characters."))
    if errors:
        return _render(
            request, project, keys={"errors": errors, "create_name": name, "create_kind": kind}
        )
    nonce = request.POST.get("nonce", "")
    if not nonce or not cache.add(
        f"key-create:{project.pk}:{nonce[:64]}", 1, timeout=KEY_NONCE_SECONDS
    ):
        errors.append(
            gettext(
                "This form was already sent and its key created (its secret was shown "
                "then). Reloading the page does not create another key."
            )
        )
        return _render(request, project, keys={"errors": errors})
    key, raw_key = project_key_create(
        project=project, kind=kind, name=name, created_by=request.user
    )
    # The raw key goes out in this response only: kept nowhere, not even in the session
    # (whose store would then hold it in clear), so the page answers the POST itself.
    messages.success(request, gettext("The key was created."))
    return _render(
        request,
        project,
        keys={"new_key": {"id": key.pk, "kind": key.kind, "name": key.name, "raw": raw_key}},
    )


def _key_revoke(request: HttpRequest, project: Project) -> HttpResponse:
    key_id = request.POST.get("key_id", "")
    key = project_key_get(project=project, key_id=int(key_id)) if key_id.isdigit() else None
    if key is None:
        raise Http404("No such key.")
    project_key_revoke(key=key)
    messages.success(
        request, gettext("The key %(display)s was revoked.") % {"display": key.display}
    )
    return redirect(_section_url(project, "keys"))


# Widget


def _reasons_text(reasons: list[dict[str, Any]]) -> str:
    lines = []
    for reason in reasons:
        label = reason.get("label") or {}
        if isinstance(label, str):
            label = {"en": label}
        parts = [reason.get("slug", ""), label.get("en", "")]
        if label.get("ko"):
            parts.append(label["ko"])
        lines.append(" | ".join(parts))
    return "\n".join(lines)


def _widget_context(request: HttpRequest, project: Project) -> dict[str, Any]:
    return {
        "origins_text": "\n".join(project.allowed_origins or []),
        "reasons_text": _reasons_text(project.feedback_reasons or []),
        "default_reasons_text": _reasons_text(DEFAULT_REASONS),
        "require_signed": project.require_signed_feedback,
        "errors": [],
    }


def reasons_parse(text: str) -> tuple[list[dict[str, Any]], list[str]]:
    """`slug | English label | Korean label` lines -> widget reasons, and errors by line."""
    reasons: list[dict[str, Any]] = []
    errors: list[str] = []
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [part.strip() for part in line.split("|")]
        if len(parts) not in (2, 3):
            errors.append(
                gettext("Line %(number)d: write “slug | English label | Korean label”.")
                % {"number": number}
            )
            continue
        slug, english, korean = (*parts, "")[:3]
        if not REASON_SLUG.match(slug):
            errors.append(
                gettext(
                    "Line %(number)d: the slug may hold only lowercase letters, digits, - and _."
                )
                % {"number": number}
            )
        elif slug in seen:
            errors.append(
                gettext("Line %(number)d: the slug “%(slug)s” is used twice.")
                % {"number": number, "slug": slug}
            )
        if not english:
            errors.append(gettext("Line %(number)d: give an English label.") % {"number": number})
        if len(english) > MAX_REASON_LABEL or len(korean) > MAX_REASON_LABEL:
            errors.append(
                gettext("Line %(number)d: labels can have at most %(max)d characters.")
                % {"number": number, "max": MAX_REASON_LABEL}
            )
        seen.add(slug)
        reasons.append({"slug": slug, "label": {"en": english, "ko": korean}})
    if len(reasons) > MAX_REASONS:
        errors.append(gettext("At most %(max)d reasons.") % {"max": MAX_REASONS})
    return reasons, errors


def _widget_update(request: HttpRequest, project: Project) -> HttpResponse:
    origins_text = request.POST.get("allowed_origins", "")
    reasons_text = request.POST.get("feedback_reasons", "")
    require_signed = request.POST.get("require_signed_feedback") == "on"
    origins = [line.strip() for line in origins_text.splitlines() if line.strip()]
    errors = []
    for origin in origins:
        try:
            origin_normalize(origin)
        except InvalidInput:
            errors.append(
                gettext("“%(origin)s” is not an origin such as https://chat.example.com.")
                % {"origin": origin}
            )
    reasons, reason_errors = reasons_parse(reasons_text)
    errors += reason_errors
    if not errors:
        try:
            project_widget_settings_update(
                project=project,
                allowed_origins=origins,
                feedback_reasons=reasons,
                require_signed_feedback=require_signed,
            )
        except InvalidInput as error:
            errors = [message for field in error.fields.values() for message in field] or [
                error.message
            ]
    if errors:
        project.refresh_from_db()
        return _render(
            request,
            project,
            widget={
                "origins_text": origins_text,
                "reasons_text": reasons_text,
                "require_signed": require_signed,
                "errors": errors,
            },
        )
    messages.success(request, gettext("The widget settings were saved."))
    return redirect(_section_url(project, "widget"))


def _signing_secret_rotate(request: HttpRequest, project: Project) -> HttpResponse:
    project_signing_secret_rotate(project=project)
    messages.success(
        request,
        gettext("The signing secret was replaced; tokens signed with the old one stop working."),
    )
    return redirect(_section_url(project, "signing"))


# Rubric


def question_preview(questions: Any) -> list[dict[str, Any]]:
    """Rubric questions as plain rows for reading; copes with half-valid input."""
    if not isinstance(questions, list):
        return []
    language = _language()
    preview = []
    for index, question in enumerate(questions):
        if not isinstance(question, dict):
            continue
        label = question.get("label") if isinstance(question.get("label"), dict) else {}
        help_text = question.get("help") if isinstance(question.get("help"), dict) else {}
        kind = question.get("type")
        scale = question.get("scale") if isinstance(question.get("scale"), dict) else {}
        scale_labels = scale.get("labels") if isinstance(scale.get("labels"), dict) else {}
        options = question.get("options") if isinstance(question.get("options"), list) else []
        preview.append(
            {
                "number": index + 1,
                "key": str(question.get("key", "")),
                "type": TYPE_NAMES.get(kind, str(kind)) if isinstance(kind, str) else "",
                "required": bool(question.get("required")),
                "label_en": str(label.get("en", "")),
                "label_ko": str(label.get("ko", "")),
                "help": text_of(help_text, language) if help_text else "",
                "scale": (
                    {
                        "min": scale.get("min", 1),
                        "max": scale.get("max"),
                        "labels": [
                            (str(point), text_of(text, language) if isinstance(text, dict) else "")
                            for point, text in scale_labels.items()
                        ],
                    }
                    if kind == "rating"
                    else None
                ),
                "options": [
                    {
                        "value": str(option.get("value", "")),
                        "label_en": str((option.get("label") or {}).get("en", ""))
                        if isinstance(option.get("label"), dict)
                        else "",
                        "label_ko": str((option.get("label") or {}).get("ko", ""))
                        if isinstance(option.get("label"), dict)
                        else "",
                    }
                    for option in options
                    if isinstance(option, dict)
                ],
            }
        )
    return preview


def _rubric_context(project: Project) -> dict[str, Any]:
    versions = rubric_list(project=project)
    active = next((rubric for rubric in versions if rubric.is_active), None)
    for version in versions:
        version.preview = question_preview(version.questions)
    return {
        "active": active,
        "versions": versions,
        "name": active.name if active else "",
        "questions_text": json.dumps(
            active.questions if active else [], ensure_ascii=False, indent=2
        ),
        "preview": question_preview(active.questions) if active else [],
        "preview_is_draft": False,
        "errors": [],
        "types": QUESTION_TYPES,
    }


def _rubric_parse(text: str) -> tuple[Any, list[tuple[str, list[str]]]]:
    try:
        questions = json.loads(text)
    except json.JSONDecodeError as error:
        return None, [
            (
                "questions",
                [
                    gettext(
                        "This is not valid JSON: %(problem)s (line %(line)d, column %(column)d)."
                    )
                    % {"problem": error.msg, "line": error.lineno, "column": error.colno}
                ],
            )
        ]
    return questions, []


def _rubric_publish(request: HttpRequest, project: Project) -> HttpResponse:
    text = request.POST.get("questions", "")
    name = request.POST.get("name", "").strip()[:200]
    questions, errors = _rubric_parse(text)
    if not errors:
        try:
            rubric = rubric_publish(
                project=project, questions=questions, name=name, created_by=request.user
            )
        except InvalidInput as error:
            errors = sorted(error.fields.items()) or [("questions", [error.message])]
        else:
            messages.success(
                request,
                gettext("Rubric version %(version)d is now active.") % {"version": rubric.version},
            )
            return redirect(_section_url(project, "rubric"))
    return _render(
        request,
        project,
        rubric={
            "name": name,
            "questions_text": text,
            "preview": question_preview(questions),
            "preview_is_draft": True,
            "errors": errors,
        },
    )


def _rubric_preview(request: HttpRequest, project: Project) -> HttpResponse:
    """The draft's questions as they will read, and its errors; nothing is saved."""
    text = request.POST.get("questions", "")
    questions, errors = _rubric_parse(text)
    if not errors:
        errors = sorted(questions_validate(questions).items())
    rubric = {
        "name": request.POST.get("name", "").strip()[:200],
        "questions_text": text,
        "preview": question_preview(questions),
        "preview_is_draft": True,
        "errors": errors,
        "checked": not errors,
    }
    if request.htmx:
        return render(
            request,
            "annotations/settings/_rubric_preview.html",
            {"project": project, "rubric": rubric},
        )
    return _render(request, project, rubric=rubric)


ACTIONS: dict[str, Handler] = {
    "member_add": _member_add,
    "member_role": _member_role,
    "member_remove": _member_remove,
    "key_create": _key_create,
    "key_revoke": _key_revoke,
    "widget_update": _widget_update,
    "signing_secret_rotate": _signing_secret_rotate,
    "rubric_publish": _rubric_publish,
    "rubric_preview": _rubric_preview,
}
