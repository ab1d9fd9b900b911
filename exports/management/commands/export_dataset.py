"""python manage.py export_dataset --project SLUG --kind KIND --format FMT --output PATH"""

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotations.errors import DomainError
from annotations.models import Project
from exports.options import export_options_clean
from exports.rows import KINDS, PREFERENCE_FORMATS
from exports.selectors import export_count
from exports.services.dataset import ExportPathError, dataset_export
from exports.writers import FORMATS


class Command(BaseCommand):
    help = (
        "Export a project's labeled answers as a dataset (raw, eval, sft or preference) "
        "in JSONL, CSV or Parquet, with a manifest.json beside the data."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", required=True, help="the project's slug")
        parser.add_argument("--kind", required=True, choices=KINDS)
        parser.add_argument("--format", required=True, choices=FORMATS, dest="file_format")
        parser.add_argument(
            "--output",
            required=True,
            help="the data file; with --split, a directory holding one file per split",
        )
        parser.add_argument("--since", help="answers from this day on (YYYY-MM-DD)")
        parser.add_argument("--until", help="answers up to this day, inclusive (YYYY-MM-DD)")
        parser.add_argument("--queue", help="only answers in this annotation queue (its id)")
        parser.add_argument(
            "--tag", action="append", default=[], help="conversation tag (repeatable: any of)"
        )
        parser.add_argument("--model")
        parser.add_argument("--prompt-name")
        parser.add_argument("--prompt-version")
        parser.add_argument("--rating", choices=("up", "down"), help="end-user vote")
        parser.add_argument(
            "--gold-only",
            action="store_true",
            help="only answers with a gold label (for now: labeled by at least one human)",
        )
        parser.add_argument(
            "--limit", help="at most this many answers (of those that can give the kind's rows)"
        )
        parser.add_argument("--split", help="e.g. train=0.8,validation=0.1,test=0.1")
        parser.add_argument("--seed", default="0", help="the split seed (default 0)")
        parser.add_argument("--redact-pii", action="store_true")
        parser.add_argument(
            "--preference-format",
            choices=PREFERENCE_FORMATS,
            default="trl",
            help="trl: prompt/chosen/rejected; openai: input/preferred_output/...",
        )
        parser.add_argument(
            "--sft-min-rating",
            help=(
                "sft: the reviewers' mean an original answer needs, on a 1-5 scale moved onto "
                "each rating question's own (default 4)"
            ),
        )
        parser.add_argument("--quiet", action="store_true", help="no progress bar or summary")

    def handle(self, *args: Any, **opts: Any) -> None:
        project = Project.objects.filter(slug=opts["project"]).first()
        if project is None:
            raise CommandError(f"No project with the slug {opts['project']!r}.")
        options, errors = export_options_clean(
            {
                "kind": opts["kind"],
                "format": opts["file_format"],
                "since": opts["since"],
                "until": opts["until"],
                "queue": opts["queue"],
                "tags": opts["tag"],
                "model": opts["model"],
                "prompt_name": opts["prompt_name"],
                "prompt_version": opts["prompt_version"],
                "rating": opts["rating"],
                "gold_only": opts["gold_only"],
                "limit": opts["limit"],
                "split": opts["split"],
                "seed": opts["seed"],
                "redact_pii": opts["redact_pii"],
                "preference_format": opts["preference_format"],
                "sft_min_rating": opts["sft_min_rating"],
            }
        )
        if options is None:
            problems = "; ".join(
                f"--{field.replace('_', '-')}: {', '.join(messages)}"
                for field, messages in errors.items()
            )
            raise CommandError(f"Invalid arguments: {problems}")
        quiet = opts["quiet"] or opts["verbosity"] == 0
        output = Path(opts["output"]).expanduser()
        bar = None
        if not quiet and sys.stderr.isatty():
            from tqdm import tqdm

            bar = tqdm(
                total=export_count(project=project, filters=options.filters, kind=options.kind),
                unit="answers",
                file=sys.stderr,
            )
        try:
            manifest = dataset_export(
                project=project,
                options=options,
                output=output,
                progress=(lambda read, written: bar.update(read - bar.n)) if bar else None,
                create_directories=False,
            )
        except ExportPathError as error:
            raise CommandError(f"Cannot write the export: {error}.") from None
        except OSError as error:
            # A full disk, a quota, an I/O error: the export removed its partial files.
            where = f" ({error.filename})" if error.filename else ""
            raise CommandError(
                f"Cannot write the export: {error.strerror or error}{where}."
            ) from None
        except DomainError as error:
            raise CommandError(error.message) from None
        finally:
            if bar is not None:
                bar.close()
        if not quiet:
            counts = ", ".join(f"{name} {rows:,}" for name, rows in manifest["rows"].items())
            self.stdout.write(
                f"Wrote {manifest['rows_total']:,} {options.kind} rows ({counts}) to {output}."
            )
