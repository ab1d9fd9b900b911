"""Conversation browser and project settings pages, under /p/<slug>/."""

from django.urls import path

from annotations.views import browse, project_settings

urlpatterns = [
    path("conversations/", browse.conversation_list, name="conversation-list"),
    path(
        "conversations/<path:external_id>/",
        browse.conversation_detail,
        name="conversation-detail",
    ),
    path("settings/", project_settings.project_settings, name="project-settings"),
]
