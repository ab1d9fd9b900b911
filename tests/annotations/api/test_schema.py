"""The OpenAPI document: valid OpenAPI 3.0 (what code generators and gateways read),
with the request models' JSON Schema turned into 3.0's words."""

import json

import pytest
from django.test import Client
from drf_spectacular.validation import validate_schema

from annotations.api.schema import openapi_30_hook


@pytest.mark.django_db
def test_the_served_schema_is_valid_openapi_3_0():
    response = Client().get("/api/v1/schema/", headers={"Accept": "application/json"})
    schema = json.loads(response.content)

    validate_schema(schema)
    text = json.dumps(schema)
    assert schema["openapi"].startswith("3.0")
    assert '"const"' not in text and '{"type": "null"}' not in text
    assert "delete" in schema["paths"]["/api/v1/exports/{job_id}/"]


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ({"const": "function", "type": "string"}, {"enum": ["function"], "type": "string"}),
        (
            {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None, "title": "T"},
            {"type": "string", "default": None, "title": "T", "nullable": True},
        ),
        (
            {"anyOf": [{"$ref": "#/components/schemas/A"}, {"type": "null"}]},
            {"allOf": [{"$ref": "#/components/schemas/A"}], "nullable": True},
        ),
        (
            {"anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}]},
            {"anyOf": [{"type": "string"}, {"type": "integer"}], "nullable": True},
        ),
        ({"type": "null"}, {"nullable": True}),
        # Nested, and what 3.0 has already is left alone.
        (
            {"properties": {"a": {"items": {"const": 1}}, "b": {"type": "integer"}}},
            {"properties": {"a": {"items": {"enum": [1]}}, "b": {"type": "integer"}}},
        ),
    ],
)
def test_json_schema_words_become_openapi_3_0(written, read):
    assert openapi_30_hook({"components": {"schemas": {"X": written}}}) == {
        "components": {"schemas": {"X": read}}
    }
