"""Model validation that the admin's forms apply."""

import pytest
from django.forms import modelform_factory

from annotations.models import Conversation, Feedback


@pytest.mark.parametrize(
    ("model", "field"), [(Conversation, "tags"), (Feedback, "reasons")], ids=["tags", "reasons"]
)
@pytest.mark.parametrize(
    "value",
    ['["beta", 3]', '{"beta": 1}', '"beta"', "[null]", '[["nested"]]'],
)
def test_the_admin_refuses_lists_that_are_not_of_strings(model, field, value):
    form = modelform_factory(model, fields=[field])(data={field: value})

    assert not form.is_valid()
    assert form.errors[field] == ['Enter a JSON list of strings, such as ["beta", "ko"].']


@pytest.mark.parametrize(
    ("model", "field"), [(Conversation, "tags"), (Feedback, "reasons")], ids=["tags", "reasons"]
)
@pytest.mark.parametrize("value", ["[]", '["beta", "한국어"]'])
def test_the_admin_takes_lists_of_strings(model, field, value):
    form = modelform_factory(model, fields=[field])(data={field: value})

    assert form.is_valid(), form.errors
