from django.contrib import admin

from annotations.models import (
    Conversation,
    DailyStats,
    Feedback,
    Membership,
    Message,
    Project,
    ProjectKey,
)


class ProjectKeyInline(admin.TabularInline):
    model = ProjectKey
    fields = ["kind", "name", "display", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["kind", "display", "created_at", "last_used_at"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        # Keys are created through create_project or the settings page, which show them once.
        return False


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "require_signed_feedback", "created_at"]
    search_fields = ["slug", "name"]
    inlines = [ProjectKeyInline, MembershipInline]


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["external_id", "project", "end_user", "created_at"]
    list_filter = ["project"]
    search_fields = ["external_id", "end_user"]
    list_select_related = ["project"]
    raw_id_fields = ["project"]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["external_id", "conversation", "role", "model", "prompt_name", "prompt_version"]
    list_filter = ["role", "project"]
    raw_id_fields = ["conversation", "project"]
    list_select_related = ["conversation"]


@admin.register(Feedback)
class FeedbackAdmin(admin.ModelAdmin):
    list_display = ["message", "end_user", "rating", "source", "updated_at"]
    list_filter = ["rating", "source", "project"]
    raw_id_fields = ["message", "project"]
    list_select_related = ["message"]


@admin.register(DailyStats)
class DailyStatsAdmin(admin.ModelAdmin):
    list_display = [
        "project",
        "day",
        "model",
        "prompt_name",
        "prompt_version",
        "answers",
        "thumbs_up",
        "thumbs_down",
    ]
    list_filter = ["project", "model"]
