"""Queues and labeling pages, under /p/<slug>/."""

from django.urls import path

from annotations.views import labeling, queues

item = "queues/<int:queue_id>/items/<int:item_id>/"

urlpatterns = [
    path("queues/", queues.queue_list, name="queue-list"),
    path("queues/new/", queues.queue_create, name="queue-create"),
    path("queues/count/", queues.queue_count, name="queue-count"),
    path("queues/<int:queue_id>/", queues.queue_detail, name="queue-detail"),
    path("queues/<int:queue_id>/refresh/", queues.queue_refresh, name="queue-refresh"),
    path("queues/<int:queue_id>/archive/", queues.queue_archive, name="queue-archive"),
    path("queues/<int:queue_id>/next/", labeling.queue_next, name="queue-next"),
    path(item, labeling.queue_item, name="queue-item"),
    path(f"{item}skip/", labeling.queue_item_skip, name="queue-item-skip"),
    path(f"{item}release/", labeling.queue_item_release, name="queue-item-release"),
    path(f"{item}renew/", labeling.queue_item_renew, name="queue-item-renew"),
]
