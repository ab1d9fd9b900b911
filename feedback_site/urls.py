from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path, re_path
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from annotations.api.exceptions import json_not_found, json_server_error


@csrf_exempt  # an API client posting to a wrong path gets the JSON 404, not a CSRF page
def api_not_found(request: HttpRequest) -> HttpResponse:
    return json_not_found(request)


urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/v1/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("api/v1/exports/", include("exports.api.urls")),
    path("api/v1/", include("annotations.api.urls")),
    re_path(r"^api/", api_not_found),
    path("p/<slug:slug>/exports/", include("exports.urls")),
    path("", include("annotations.urls")),
]


def handler404(request: HttpRequest, exception: Exception) -> HttpResponse:
    return json_not_found(request, exception) or defaults.page_not_found(request, exception)


def handler500(request: HttpRequest) -> HttpResponse:
    return json_server_error(request) or defaults.server_error(request)
