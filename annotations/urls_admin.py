"""Conversation browser and project settings pages, under /p/<slug>/."""

urlpatterns: list = []
