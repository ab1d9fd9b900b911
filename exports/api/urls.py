from django.urls import path

from . import views

urlpatterns = [
    path("", views.ExportListApi.as_view(), name="api-export-list"),
    path("<int:job_id>/", views.ExportDetailApi.as_view(), name="api-export-detail"),
    path("<int:job_id>/download/", views.ExportDownloadApi.as_view(), name="api-export-download"),
]
