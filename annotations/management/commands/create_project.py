import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotations.errors import DomainError
from annotations.services.projects import project_create


class Command(BaseCommand):
    help = "Create a project with a secret and a public key, printed once as JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="URL-safe identifier, e.g. devot-chatbot")
        parser.add_argument("--name", default="", help="Display name (defaults to the slug)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            project, secret_key, public_key = project_create(
                slug=options["slug"], name=options["name"]
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            json.dumps(
                {"project": project.slug, "secret_key": secret_key, "public_key": public_key}
            )
        )
