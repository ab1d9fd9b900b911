"""How a chat message's tool calls are shown, on the labeling and conversation pages."""

import contextlib
import json
from typing import Any

# Arguments are indented for reading only while small and shallow: indenting costs time
# and space that grow with the nesting depth squared, and arguments come from a model.
PRETTY_MAX_CHARS = 16_384
PRETTY_MAX_DEPTH = 20


def _shallow(value: Any, depth: int = 0) -> bool:
    if depth > PRETTY_MAX_DEPTH:
        return False
    if isinstance(value, dict):
        return all(_shallow(item, depth + 1) for item in value.values())
    if isinstance(value, list):
        return all(_shallow(item, depth + 1) for item in value)
    return True


def _readable(arguments: str) -> str:
    """The arguments indented when they are small, shallow JSON; else as written."""
    if len(arguments) > PRETTY_MAX_CHARS:
        return arguments
    # Nesting beyond the parser's recursion limit: shown as written too.
    with contextlib.suppress(ValueError, RecursionError):
        value = json.loads(arguments)
        if _shallow(value):
            return json.dumps(value, ensure_ascii=False, indent=2)
    return arguments


def tool_call_views(tool_calls: Any) -> list[dict[str, str]]:
    """[{"id", "name", "arguments"}] of an assistant message's tool calls."""
    views = []
    for call in tool_calls or []:
        if not isinstance(call, dict):
            continue
        function = call.get("function") if isinstance(call.get("function"), dict) else {}
        views.append(
            {
                "id": str(call.get("id") or ""),
                "name": str(function.get("name") or ""),
                "arguments": _readable(str(function.get("arguments") or "")),
            }
        )
    return views
