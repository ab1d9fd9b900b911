from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.i18n import set_language

from annotations.views import projects

urlpatterns = [
    path("", projects.project_list, name="project-list"),
    path(
        "login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/setlang/", set_language, name="set_language"),
    path("demo/chat/", projects.demo_chat, name="demo-chat"),
    path("p/<slug:slug>/", include("annotations.urls_review")),
    path("p/<slug:slug>/", include("annotations.urls_admin")),
]
