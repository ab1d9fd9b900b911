from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from annotations.keys import feedback_token
from annotations.models import Membership
from annotations.selectors import (
    conversation_list_recent,
    project_list_for_user,
    project_public_key,
)


@login_required
def project_list(request: HttpRequest) -> HttpResponse:
    projects = project_list_for_user(user=request.user)
    return render(request, "annotations/project_list.html", {"projects": projects})


@login_required
def demo_chat(request: HttpRequest) -> HttpResponse:
    """A chatbot page as end users would see it, with the widget on every answer.

    For the project's admins, and its votes are the visitor's own ("demo:" and their
    username): the page must not let anyone replace or withdraw a real end user's
    vote, nor hand out tokens signed for real end users.
    """
    projects = project_list_for_user(user=request.user, role=Membership.Role.ADMIN)
    slug = request.GET.get("project")
    project = projects.filter(slug=slug).first() if slug else projects.first()
    if project is None:
        raise Http404("No project to show.")
    public_key = project_public_key(project=project)
    conversations = conversation_list_recent(project=project, limit=20)
    visitor = demo_visitor(request.user)
    for conversation in conversations:
        for message in conversation.messages.all():
            message.feedback_token = (
                feedback_token(
                    secret=project.feedback_signing_secret,
                    conversation_id=conversation.external_id,
                    message_id=message.external_id,
                    user=visitor,
                )
                if project.require_signed_feedback
                else ""
            )
    context = {
        "project": project,
        "projects": projects,
        "public_key": public_key.display if public_key else "",
        "api_origin": request.build_absolute_uri("/").rstrip("/"),
        "conversations": conversations,
        "visitor": visitor,
    }
    return render(request, "annotations/demo_chat.html", context)


def demo_visitor(user: AbstractBaseUser) -> str:
    """The end-user id the demo page votes as."""
    return f"demo:{user.get_username()}"
