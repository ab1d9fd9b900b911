"""The Export page, mounted under /p/<slug>/exports/."""

from django.urls import path

from exports import views

urlpatterns = [
    path("", views.export_page, name="export-page"),
    path("jobs/", views.export_jobs, name="export-jobs"),
    path("<int:job_id>/download/", views.export_download, name="export-download"),
    path("<int:job_id>/delete/", views.export_delete, name="export-delete"),
    path("<int:job_id>/manifest.json", views.export_manifest, name="export-manifest"),
]
