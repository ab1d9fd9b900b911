from django.apps import AppConfig


class AnnotationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "annotations"
    verbose_name = "Annotations"

    def ready(self) -> None:
        from corsheaders.signals import check_request_enabled

        from annotations.api.widget import cors_allow_widget_request

        check_request_enabled.connect(cors_allow_widget_request, dispatch_uid="widget-cors")
