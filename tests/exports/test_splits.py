"""Deterministic splits by conversation."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exports.splits import SplitSpecError, split_for, split_point, split_spec_parse

THREE = [("train", 0.8), ("validation", 0.1), ("test", 0.1)]


def test_parses_a_split_spec_in_order():
    assert split_spec_parse("train=0.8,validation=0.1,test=0.1") == THREE
    assert split_spec_parse(" train = 0.5 , test = 0.5 ") == [("train", 0.5), ("test", 0.5)]


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("", "name=fraction"),
        ("train", "is not name=fraction"),
        ("train=0.8,test=0.1", "add up to 0.9"),
        ("train=0.5,train=0.5", "named twice"),
        ("train=abc,test=0.5", "not a number"),
        ("train=1.2,test=-0.2", "above 0"),
        ("train=0,test=1", "above 0"),
        ("9lives=1", "not a split name"),
        ("train=nan,test=0.5", "above 0"),
    ],
)
def test_refuses_bad_specs_with_a_reason(spec, problem):
    with pytest.raises(SplitSpecError, match=problem):
        split_spec_parse(spec)


def test_split_depends_only_on_the_conversation_and_the_seed():
    assert split_for("conv-1", "42", THREE) == split_for("conv-1", "42", THREE)
    assert split_point("conv-1", "42") != split_point("conv-1", "43")
    assert split_point("conv-1", "42") != split_point("conv-2", "42")


def test_proportions_are_close_to_the_fractions():
    names = [split_for(f"conv-{n}", "0", THREE) for n in range(20_000)]
    assert abs(names.count("train") / 20_000 - 0.8) < 0.015
    assert abs(names.count("validation") / 20_000 - 0.1) < 0.01
    assert abs(names.count("test") / 20_000 - 0.1) < 0.01


@given(st.text(min_size=1, max_size=80), st.text(max_size=20))
def test_split_point_is_in_the_unit_interval(conversation_id, seed):
    point = split_point(conversation_id, seed)
    assert 0 <= point < 1
    assert split_for(conversation_id, seed, THREE) in ("train", "validation", "test")


def test_adding_a_split_boundary_never_moves_lower_items():
    """Items under the first boundary stay in the first split whatever follows it."""
    two = [("train", 0.8), ("test", 0.2)]
    for n in range(2000):
        if split_for(f"c{n}", "7", two) == "train":
            assert split_for(f"c{n}", "7", THREE) == "train"
