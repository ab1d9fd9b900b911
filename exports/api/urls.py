from django.urls import path

from . import views

urlpatterns = [
    path("", views.ExportCreateApi.as_view(), name="api-export-create"),
    path("<int:job_id>/", views.ExportDetailApi.as_view(), name="api-export-detail"),
    path("<int:job_id>/download/", views.ExportDownloadApi.as_view(), name="api-export-download"),
]
