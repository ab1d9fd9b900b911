"""Output serializers (responses). Request bodies are validated by annotations.payloads."""

from datetime import datetime
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from annotations.models import Annotation, Conversation, DailyStats, Feedback, Message
from annotations.services.feedback import RecordedVote


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


class IngestResultSerializer(serializers.Serializer):
    id = serializers.CharField()
    status = serializers.ChoiceField(choices=["created", "existed", "error"])
    messages_created = serializers.IntegerField()


class BatchItemResultSerializer(IngestResultSerializer):
    index = serializers.IntegerField()
    error = ErrorDetailSerializer(required=False)


class BatchResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    existed = serializers.IntegerField()
    failed = serializers.IntegerField()
    messages_created = serializers.IntegerField()
    results = BatchItemResultSerializer(many=True)


class FeedbackOutputSerializer(serializers.Serializer):
    """The vote as the API answers it (documented here; rendered by feedback_data)."""

    conversation = serializers.CharField(source="message.conversation.external_id")
    message = serializers.CharField(source="message.external_id")
    user = serializers.CharField(source="end_user")
    rating = serializers.ChoiceField(choices=Feedback.Rating.choices)
    reasons = serializers.ListField(child=serializers.CharField())
    comment = serializers.CharField(allow_blank=True)
    source = serializers.ChoiceField(choices=Feedback.Source.choices)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


def _datetime_text(value: datetime) -> str:
    """As serializers.DateTimeField writes it: ISO 8601 in the current time zone, UTC as Z."""
    text = value.astimezone(timezone.get_current_timezone()).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def feedback_data(vote: RecordedVote) -> dict[str, Any]:
    """What FeedbackOutputSerializer renders, built directly: votes are the hot path."""
    return {
        "conversation": vote.conversation_id,
        "message": vote.message_id,
        "user": vote.end_user,
        "rating": vote.rating,
        "reasons": list(vote.reasons),
        "comment": vote.comment,
        "source": vote.source,
        "created_at": _datetime_text(vote.created_at),
        "updated_at": _datetime_text(vote.updated_at),
    }


class MessageFeedbackSerializer(serializers.ModelSerializer):
    user = serializers.CharField(source="end_user")

    class Meta:
        model = Feedback
        fields = ["user", "rating", "reasons", "comment", "source", "created_at", "updated_at"]


class MessageAnnotationSerializer(serializers.ModelSerializer):
    annotator = serializers.CharField(source="annotator_name")
    rubric_version = serializers.IntegerField(source="rubric.version")

    class Meta:
        model = Annotation
        fields = [
            "annotator",
            "source",
            "rubric_version",
            "answers",
            "corrected_answer",
            "created_at",
            "updated_at",
        ]


class PromptSerializer(serializers.Serializer):
    name = serializers.CharField(source="prompt_name")
    version = serializers.CharField(source="prompt_version")


class MessageOutputSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="external_id")
    prompt = serializers.SerializerMethodField()
    feedback = MessageFeedbackSerializer(many=True, read_only=True)
    annotations = MessageAnnotationSerializer(many=True, read_only=True)

    class Meta:
        model = Message
        fields = [
            "id",
            "position",
            "role",
            "content",
            "model",
            "prompt",
            "contexts",
            "latency_ms",
            "usage",
            "metadata",
            "tool_calls",
            "tool_call_id",
            "created_at",
            "feedback",
            "annotations",
        ]

    def get_prompt(self, message: Message) -> dict[str, str] | None:
        if not message.prompt_name:
            return None
        return {"name": message.prompt_name, "version": message.prompt_version}


class ConversationOutputSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="external_id")
    user = serializers.CharField(source="end_user")
    messages = MessageOutputSerializer(many=True, read_only=True)

    class Meta:
        model = Conversation
        fields = ["id", "user", "tags", "metadata", "created_at", "updated_at", "messages"]


class DailyStatsSerializer(serializers.ModelSerializer):
    class Meta:
        model = DailyStats
        fields = [
            "day",
            "model",
            "prompt_name",
            "prompt_version",
            "answers",
            "thumbs_up",
            "thumbs_down",
            "refreshed_at",
        ]
