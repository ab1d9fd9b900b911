"""Queues and labeling pages, under /p/<slug>/."""

urlpatterns: list = []
