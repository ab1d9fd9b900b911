"""What an export is asked to do, checked once for the command, the API and the page."""

from dataclasses import asdict, dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from annotations.filters import queue_filters_clean
from exports.rows import DEFAULT_SFT_MIN_RATING, KINDS, PREFERENCE_FORMATS, RowOptions
from exports.splits import DEFAULT_SEED, Fractions, SplitSpecError, split_spec_parse
from exports.writers import FORMATS

RATINGS = ("up", "down")
MAX_SEED_CHARS = 100


@dataclass(frozen=True)
class ExportOptions:
    kind: str
    file_format: str
    # since, until, model, prompt_name, prompt_version, tags, rating, queue, gold_only, limit
    filters: dict[str, Any] = field(default_factory=dict)
    split: Fractions | None = None
    seed: str = DEFAULT_SEED
    redact_pii: bool = False
    preference_format: str = "trl"
    sft_min_rating: float = DEFAULT_SFT_MIN_RATING

    @property
    def row_options(self) -> RowOptions:
        return RowOptions(
            preference_format=self.preference_format, sft_min_rating=self.sft_min_rating
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready; export_options_clean(options.as_dict()) gives the same options."""
        data = asdict(self)
        data["format"] = data.pop("file_format")
        data["split"] = (
            ",".join(f"{name}={fraction!r}" for name, fraction in self.split)
            if self.split
            else None
        )
        data.update(data.pop("filters"))
        return data


def _truthy(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if value in (None, "", "0", "false", "no", "off", 0):
        return False
    if value in ("1", "true", "yes", "on", 1):
        return True
    return None


def export_options_clean(raw: dict[str, Any]) -> tuple[ExportOptions | None, dict[str, list[str]]]:
    """Check an export request given as flat keys; returns (options, errors by field)."""
    errors: dict[str, list[str]] = {}
    kind = raw.get("kind")
    if kind not in KINDS:
        errors["kind"] = [_("one of %(values)s") % {"values": ", ".join(KINDS)}]
    file_format = raw.get("format")
    if file_format not in FORMATS:
        errors["format"] = [_("one of %(values)s") % {"values": ", ".join(FORMATS)}]

    message_filter, filter_errors = queue_filters_clean(
        {
            key: raw.get(key)
            for key in ("since", "until", "model", "prompt_name", "prompt_version", "tags")
        }
    )
    for key, messages in filter_errors.items():
        errors[key.removeprefix("filters.")] = messages
    filters: dict[str, Any] = dict(message_filter)
    since, until = message_filter.get("since"), message_filter.get("until")
    if since and until and since > until:
        errors["until"] = [_("must not be before the start date")]
    rating = raw.get("rating") or ""
    if rating:
        if rating not in RATINGS:
            errors["rating"] = [_("up or down")]
        else:
            filters["rating"] = rating
    queue = raw.get("queue")
    if queue not in (None, ""):
        try:
            filters["queue"] = int(queue)
            if filters["queue"] < 1:
                raise ValueError
        except (TypeError, ValueError):
            errors["queue"] = [_("a queue id (a whole number)")]
    gold_only = _truthy(raw.get("gold_only"))
    if gold_only is None:
        errors["gold_only"] = [_("true or false")]
    elif gold_only:
        filters["gold_only"] = True
    limit = raw.get("limit")
    if limit not in (None, ""):
        try:
            filters["limit"] = int(limit)
            if isinstance(limit, bool) or filters["limit"] < 1:
                raise ValueError
        except (TypeError, ValueError):
            errors["limit"] = [_("a whole number above 0")]

    split = None
    if raw.get("split"):
        try:
            split = split_spec_parse(str(raw["split"]))
        except SplitSpecError as error:
            errors["split"] = [str(error)]
    seed = raw.get("seed")
    seed = DEFAULT_SEED if seed in (None, "") else str(seed)
    if len(seed) > MAX_SEED_CHARS or "\x00" in seed:
        errors["seed"] = [_("at most %(count)d characters") % {"count": MAX_SEED_CHARS}]
    redact = _truthy(raw.get("redact_pii"))
    if redact is None:
        errors["redact_pii"] = [_("true or false")]
    preference_format = raw.get("preference_format") or "trl"
    if preference_format not in PREFERENCE_FORMATS:
        errors["preference_format"] = [
            _("one of %(values)s") % {"values": ", ".join(PREFERENCE_FORMATS)}
        ]
    min_rating = raw.get("sft_min_rating")
    if min_rating in (None, ""):
        min_rating = DEFAULT_SFT_MIN_RATING
    else:
        try:
            min_rating = float(min_rating)
            if isinstance(raw.get("sft_min_rating"), bool) or not 1 <= min_rating <= 5:
                raise ValueError
        except (TypeError, ValueError):
            errors["sft_min_rating"] = [_("a number from 1 to 5 (a 1-5 scale)")]
    if errors:
        return None, errors
    return (
        ExportOptions(
            kind=kind,
            file_format=file_format,
            filters=filters,
            split=split,
            seed=seed,
            redact_pii=bool(redact),
            preference_format=preference_format,
            sft_min_rating=min_rating,
        ),
        {},
    )
