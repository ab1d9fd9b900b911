"""The OpenAPI document's last pass: what the request models (pydantic, JSON Schema
2020-12) write that OpenAPI 3.0 does not have, in the 3.0 words that tools read."""

from typing import Any

NULL = {"type": "null"}


def _openapi_30(node: Any) -> Any:
    if isinstance(node, list):
        return [_openapi_30(item) for item in node]
    if not isinstance(node, dict):
        return node
    # The node first (its null option is still {"type": "null"}), then what it holds.
    node = dict(node)
    if "const" in node:
        # A single allowed value (Literal["function"]).
        node["enum"] = [node.pop("const")]
    for combinator in ("anyOf", "oneOf"):
        options = node.get(combinator)
        if not isinstance(options, list) or NULL not in options:
            continue
        # Optional[X]: X, nullable.
        rest = [option for option in options if option != NULL]
        del node[combinator]
        if len(rest) != 1:
            node[combinator] = rest
        elif "$ref" in rest[0]:
            # Keys beside a $ref are ignored in 3.0.
            node["allOf"] = rest
        else:
            # The node's own keys (title, default, description) stay.
            node = {**rest[0], **node}
        node["nullable"] = True
    if node.get("type") == "null":
        del node["type"]
        node["nullable"] = True
    return {key: _openapi_30(value) for key, value in node.items()}


def openapi_30_hook(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"])."""
    return _openapi_30(result)
