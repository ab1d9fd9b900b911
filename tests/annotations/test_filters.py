import pytest

from annotations.filters import queue_filters_clean


def test_empty_values_are_dropped():
    assert queue_filters_clean(
        {"rating": "", "tags": "", "labeled": "any", "sample_percent": "100"}
    ) == ({}, {})


def test_form_values_are_normalized():
    clean, errors = queue_filters_clean(
        {
            "rating": "down",
            "reasons": "incorrect, outdated",
            "tags": ["beta"],
            "since": "2026-11-01",
            "labeled": "no",
            "search": " 워커 ",
            "sample_percent": "25",
            "prompt_version": "3",
        }
    )

    assert errors == {}
    assert clean == {
        "rating": "down",
        "reasons": ["incorrect", "outdated"],
        "tags": ["beta"],
        "since": "2026-11-01",
        "labeled": "no",
        "search": "워커",
        "sample_percent": 25,
        "prompt_version": "3",
    }


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ({"rating": "meh"}, "filters.rating"),
        ({"since": "yesterday"}, "filters.since"),
        ({"sample_percent": "0"}, "filters.sample_percent"),
        ({"sample_percent": "abc"}, "filters.sample_percent"),
        ({"labeled": "maybe"}, "filters.labeled"),
        ({"colour": "red"}, "filters.colour"),
        ({"search": "a\x00"}, "filters.search"),
    ],
)
def test_bad_filters_name_the_field(filters, field):
    assert field in queue_filters_clean(filters)[1]
