from django.contrib import admin

from exports.models import ExportJob


@admin.register(ExportJob)
class ExportJobAdmin(admin.ModelAdmin):
    list_display = ("id", "project", "kind", "file_format", "status", "rows_written", "created_at")
    list_filter = ("status", "kind", "file_format")
    search_fields = ("project__slug",)
    readonly_fields = [field.name for field in ExportJob._meta.fields]
