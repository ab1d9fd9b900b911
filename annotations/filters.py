"""The message filter shared by queues, the conversation browser and exports (pure)."""

import datetime
from typing import Any

from django.utils.translation import gettext as _

FILTER_KEYS = (
    "rating",
    "reasons",
    "since",
    "until",
    "model",
    "prompt_name",
    "prompt_version",
    "tags",
    "labeled",
    "search",
    "sample_percent",
)
RATINGS = ("down", "up", "none")


def _list(value: Any) -> list[str]:
    if value in (None, ""):
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    return [str(item).strip() for item in items if str(item).strip()]


def queue_filters_clean(filters: Any) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Normalize a filter from JSON or a form; returns (clean filter, errors by field).

    Empty values are dropped, so {} matches every assistant answer.
    """
    if not isinstance(filters, dict):
        return {}, {"filters": [_("must be an object")]}
    clean: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for key in filters:
        if key not in FILTER_KEYS:
            errors[f"filters.{key}"] = [_("unknown filter")]
    rating = filters.get("rating") or ""
    if rating:
        if rating not in RATINGS:
            errors["filters.rating"] = [_("one of down, up, none")]
        else:
            clean["rating"] = rating
    for key in ("reasons", "tags"):
        values = _list(filters.get(key))
        if values:
            clean[key] = values
    for key in ("since", "until"):
        value = filters.get(key)
        if value:
            try:
                clean[key] = datetime.date.fromisoformat(str(value)).isoformat()
            except ValueError:
                errors[f"filters.{key}"] = [_("a date such as 2026-11-25")]
    for key in ("model", "prompt_name", "prompt_version", "search"):
        value = str(filters.get(key) or "").strip()
        if "\x00" in value:
            errors[f"filters.{key}"] = [_("must not contain NUL characters")]
        elif value:
            clean[key] = value[:500]
    labeled = filters.get("labeled")
    if labeled not in (None, "", "any"):
        if labeled in (True, "yes", "true"):
            clean["labeled"] = "yes"
        elif labeled in (False, "no", "false"):
            clean["labeled"] = "no"
        else:
            errors["filters.labeled"] = [_("yes, no or any")]
    sample = filters.get("sample_percent")
    if sample not in (None, "", 100, "100"):
        try:
            percent = int(sample)
        except (TypeError, ValueError):
            percent = -1
        if not 1 <= percent <= 100:
            errors["filters.sample_percent"] = [_("a whole number from 1 to 100")]
        elif percent < 100:
            clean["sample_percent"] = percent
    return clean, errors
