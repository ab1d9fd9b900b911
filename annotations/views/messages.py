"""How a chat message's tool calls are shown, on the labeling and conversation pages."""

import contextlib
import json
from typing import Any


def tool_call_views(tool_calls: Any) -> list[dict[str, str]]:
    """[{"id", "name", "arguments"}] of an assistant message's tool calls; arguments that
    are valid JSON are indented, others shown as the model wrote them."""
    views = []
    for call in tool_calls or []:
        if not isinstance(call, dict):
            continue
        function = call.get("function") if isinstance(call.get("function"), dict) else {}
        arguments = str(function.get("arguments") or "")
        # Deeply nested arguments exhaust the parser's recursion: shown as written too.
        with contextlib.suppress(ValueError, RecursionError):
            arguments = json.dumps(json.loads(arguments), ensure_ascii=False, indent=2)
        views.append(
            {
                "id": str(call.get("id") or ""),
                "name": str(function.get("name") or ""),
                "arguments": arguments,
            }
        )
    return views
