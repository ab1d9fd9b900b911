from django.urls import path

from . import review, views, widget

urlpatterns = [
    path("project/", views.ProjectApi.as_view(), name="api-project"),
    path("conversations/", views.ConversationCreateApi.as_view(), name="api-conversation-create"),
    path(
        "conversations/batch/", views.ConversationBatchApi.as_view(), name="api-conversation-batch"
    ),
    path(
        "conversations/<path:external_id>/",
        views.ConversationDetailApi.as_view(),
        name="api-conversation-detail",
    ),
    path("feedback/", views.FeedbackCreateApi.as_view(), name="api-feedback-create"),
    path("widget/feedback/", widget.WidgetFeedbackApi.as_view(), name="api-widget-feedback"),
    path("widget/config/", widget.WidgetConfigApi.as_view(), name="api-widget-config"),
    path("annotations/", review.AnnotationImportApi.as_view(), name="api-annotation-import"),
    path("rubric/", review.RubricApi.as_view(), name="api-rubric"),
    path("queues/", review.QueueListApi.as_view(), name="api-queue-list"),
    path(
        "queues/<int:queue_id>/refresh/",
        review.QueueRefreshApi.as_view(),
        name="api-queue-refresh",
    ),
    path("metrics/daily/", views.DailyStatsApi.as_view(), name="api-metrics-daily"),
]
