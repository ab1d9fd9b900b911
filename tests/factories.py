import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from annotations.keys import key_display, key_hash
from annotations.models import Conversation, Feedback, Membership, Message, Project, ProjectKey


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"reviewer{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password("correct horse battery staple")


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    slug = factory.Sequence(lambda n: f"project-{n}")
    name = factory.LazyAttribute(lambda project: project.slug.replace("-", " ").title())


class ProjectKeyFactory(factory.django.DjangoModelFactory):
    """Pass `raw_key` to know the key; only its hash is stored, as in production."""

    class Meta:
        model = ProjectKey
        exclude = ("raw_key",)

    project = factory.SubFactory(ProjectFactory)
    kind = ProjectKey.Kind.SECRET
    raw_key = factory.Sequence(lambda n: f"sk_test{n:040d}")
    display = factory.LazyAttribute(lambda key: key_display(key.raw_key, public=False))
    key_hash = factory.LazyAttribute(lambda key: key_hash(key.raw_key))


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    project = factory.SubFactory(ProjectFactory)
    user = factory.SubFactory(UserFactory)
    role = Membership.Role.REVIEWER


class ConversationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Conversation

    project = factory.SubFactory(ProjectFactory)
    external_id = factory.Sequence(lambda n: f"conv-{n}")
    end_user = factory.Sequence(lambda n: f"u-{n}")
    tags = factory.LazyFunction(list)
    created_at = factory.LazyFunction(timezone.now)


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    conversation = factory.SubFactory(ConversationFactory)
    project = factory.LazyAttribute(lambda message: message.conversation.project)
    external_id = factory.Sequence(lambda n: f"m{n}")
    position = factory.Sequence(lambda n: n)
    role = Message.Role.ASSISTANT
    content = "Use `celery -A proj worker` to start a worker."
    model = "gpt-4o-mini"
    prompt_name = "devot-rag"
    prompt_version = "3"
    contexts = factory.LazyFunction(
        lambda: [{"id": "doc-1", "title": "Workers", "text": "Start a worker.", "score": 0.8}]
    )
    created_at = factory.LazyFunction(timezone.now)


class FeedbackFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Feedback

    message = factory.SubFactory(MessageFactory)
    project = factory.LazyAttribute(lambda feedback: feedback.message.project)
    end_user = factory.Sequence(lambda n: f"u-{n}")
    rating = Feedback.Rating.UP
