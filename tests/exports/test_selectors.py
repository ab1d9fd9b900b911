"""Reading export items page by page: keyset pages, limits, histories, the query filter."""

import gc
import json
import threading
from pathlib import Path

import pytest
from django.db import DatabaseError, connection, transaction

from annotations.models import Message
from annotations.services.annotations import annotation_import
from exports.options import export_options_clean
from exports.rows import RowOptions, rows_build
from exports.selectors import (
    TRAINING_KINDS,
    InList,
    export_count,
    export_items,
    rubric_questions,
)
from exports.services.dataset import dataset_export
from tests.factories import ConversationFactory, FeedbackFactory, MessageFactory


def _answered(project, external_id, answers=1):
    """A conversation with a user turn before each of its voted answers."""
    conversation = ConversationFactory(project=project, external_id=external_id)
    for turn in range(answers):
        MessageFactory(
            conversation=conversation,
            project=project,
            role="user",
            position=2 * turn,
            external_id=f"q{turn}",
            content=f"question {turn}",
        )
        answer = MessageFactory(
            conversation=conversation,
            project=project,
            position=2 * turn + 1,
            external_id=f"a{turn}",
            content=f"answer {turn}",
        )
        FeedbackFactory(message=answer, rating="up")


def _ids(pages):
    return [(item["conversation_id"], item["message_id"]) for page in pages for item in page]


def test_pages_follow_each_other_in_id_order_without_gaps_or_repeats(labeled):
    for n in range(7):
        _answered(labeled.project, f"k-{n}")

    whole = list(export_items(project=labeled.project, filters={}, page_size=1000))
    paged = list(export_items(project=labeled.project, filters={}, page_size=3))

    assert [len(page) for page in paged] == [3, 3, 3, 3]
    assert _ids(paged) == _ids(whole)
    assert len(set(_ids(paged))) == 12


@pytest.mark.parametrize(
    ("limit", "sizes"), [(1, [1]), (4, [3, 1]), (6, [3, 3]), (50, [3, 3, 3, 3])]
)
def test_limit_stops_reading_midway_through_a_page(labeled, limit, sizes):
    for n in range(7):
        _answered(labeled.project, f"k-{n}")

    pages = list(export_items(project=labeled.project, filters={"limit": limit}, page_size=3))

    assert [len(page) for page in pages] == sizes
    whole = list(export_items(project=labeled.project, filters={}, page_size=1000))
    assert _ids(pages) == _ids(whole)[:limit]


def test_each_answer_of_a_conversation_gets_only_the_turns_before_it(labeled):
    _answered(labeled.project, "multi", answers=3)

    items = [
        item
        for page in export_items(project=labeled.project, filters={}, page_size=2)
        for item in page
        if item["conversation_id"] == "multi"
    ]

    assert [item["message_id"] for item in items] == ["a0", "a1", "a2"]
    assert [item["history"] for item in items] == [
        [{"role": "user", "content": "question 0"}],
        [
            {"role": "user", "content": "question 0"},
            {"role": "assistant", "content": "answer 0"},
            {"role": "user", "content": "question 1"},
        ],
        [
            {"role": "user", "content": "question 0"},
            {"role": "assistant", "content": "answer 0"},
            {"role": "user", "content": "question 1"},
            {"role": "assistant", "content": "answer 1"},
            {"role": "user", "content": "question 2"},
        ],
    ]


RATED_GOOD = {"correctness": 5, "groundedness": 5, "helpfulness": 5}


def _edge_answers(project):
    """Answers at the edges of what SFT and preference rows need, beside the fixture's:
    a correction by a model only, a correction of blanks only, an up vote beside an
    error chosen by a model, and votes of both kinds."""
    for external_id in ("e-model", "e-blank", "e-error", "e-mixed"):
        _answered(project, external_id)
    labels = [
        ("e-model", "judge", "model", RATED_GOOD, "A model's rewrite."),
        ("e-blank", "kim", "human", RATED_GOOD, "  \n "),
        ("e-error", "judge", "model", {**RATED_GOOD, "errors": ["hallucination"]}, None),
    ]
    for conversation_id, annotator, source, answers, corrected in labels:
        annotation_import(
            project=project,
            conversation_id=conversation_id,
            message_id="a0",
            annotator=annotator,
            source=source,
            answers=answers,
            corrected_answer=corrected,
        )
    FeedbackFactory(
        message=Message.objects.get(conversation__external_id="e-mixed", external_id="a0"),
        rating="down",
    )


@pytest.mark.parametrize("redact", [False, True])
@pytest.mark.parametrize("kind", TRAINING_KINDS)
def test_training_items_build_the_rows_that_whole_items_build(labeled, kind, redact):
    # Votes of both kinds on one answer, and one from another source.
    FeedbackFactory(message=labeled.answers["c1"], end_user="u-9", rating="down")
    FeedbackFactory(message=labeled.answers["c3"], end_user="u-8", rating="up", source="widget")
    _edge_answers(labeled.project)
    questions = rubric_questions(project=labeled.project)

    def rows(items_kind):
        pages = export_items(project=labeled.project, filters={}, page_size=2, kind=items_kind)
        return [
            (item["conversation_id"], row)
            for page in pages
            for item, row in rows_build(
                page,
                kind=kind,
                questions_by_version=questions,
                options=RowOptions(),
                redact=redact,
            )
        ]

    lean = rows(kind)

    # The answers left out and the items cut short change no row.
    assert lean == rows(None)
    assert {conversation for conversation, _ in lean} == (
        {"c1", "c2", "c3", "c5", "e-model", "e-blank"} if kind == "sft" else {"c2", "c5"}
    )


@pytest.mark.parametrize(
    ("kind", "read"),
    [
        # Every answer with a vote or a label.
        ("raw", ["c1", "c2", "c3", "c4", "c5", "e-model", "e-blank", "e-error", "e-mixed"]),
        ("eval", ["c1", "c2", "c3", "c4", "c5", "e-model", "e-blank", "e-error", "e-mixed"]),
        # A human label or an up vote; each of the fixture's _answered has an up vote.
        ("sft", ["c1", "c2", "c3", "c5", "e-model", "e-blank", "e-error", "e-mixed"]),
        # A human correction, even of blanks (the rows leave that one out).
        ("preference", ["c2", "c5", "e-blank"]),
    ],
)
def test_an_export_reads_only_answers_that_can_give_its_rows(labeled, kind, read):
    _edge_answers(labeled.project)

    items = [
        item["conversation_id"]
        for page in export_items(project=labeled.project, filters={}, page_size=2, kind=kind)
        for item in page
    ]

    assert items == read
    assert export_count(project=labeled.project, filters={}, kind=kind) == len(read)
    assert export_count(project=labeled.project, filters={"limit": 2}, kind=kind) == 2


def test_the_limit_counts_answers_that_can_give_the_kind_s_rows(labeled, tmp_path):
    # The first answer (c1) has no correction: a preference export of one answer reads
    # the first that has one.
    options, _ = export_options_clean({"kind": "preference", "format": "jsonl", "limit": 1})
    output = Path(tmp_path) / "pairs.jsonl"

    manifest = dataset_export(project=labeled.project, options=options, output=output)

    assert manifest["rows_total"] == 1
    (pair,) = [json.loads(line) for line in output.read_text("utf-8").splitlines()]
    assert pair["rejected"] == [{"role": "assistant", "content": "Set retry=True in settings."}]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL builds the items")
def test_training_items_leave_out_what_their_rows_do_not_read(labeled):
    (item,) = [
        item
        for page in export_items(project=labeled.project, filters={}, kind="sft")
        for item in page
        if item["conversation_id"] == "c2"
    ]

    assert set(item) == {
        "conversation_id",
        "message_id",
        "history",
        "answer",
        "feedback",
        "annotations",
    }
    assert item["feedback"] == [{"rating": "down"}]
    assert item["history"] == [
        {"role": "user", "content": "How do I retry a task? Call me at 010-1234-5678."}
    ]


def test_in_list_filter_takes_thousands_of_ids(labeled):
    ids = [labeled.answers["c1"].pk, labeled.answers["c3"].pk, *range(10**9, 10**9 + 5000)]

    found = Message.objects.filter(InList("id", ids)).values_list("external_id", flat=True)

    assert sorted(found) == ["m2", "m3"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL setting")
def test_reading_leaves_the_jit_setting_as_it_found_it(labeled):
    with connection.cursor() as cursor:
        cursor.execute("SET jit = on")

    list(export_items(project=labeled.project, filters={}, page_size=2))

    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "on"


def test_an_export_turns_the_garbage_collector_back_on(labeled, tmp_path):
    options, _ = export_options_clean({"kind": "raw", "format": "jsonl"})
    assert gc.isenabled()

    dataset_export(project=labeled.project, options=options, output=Path(tmp_path) / "raw.jsonl")

    assert gc.isenabled()


def test_stopping_after_the_first_page_leaves_no_reader_behind(labeled):
    for n in range(6):
        _answered(labeled.project, f"s-{n}")

    pages = export_items(project=labeled.project, filters={}, page_size=2)
    first = next(pages)
    pages.close()

    assert len(first) == 2
    assert not [
        thread for thread in threading.enumerate() if thread.name.startswith("export-reader")
    ]
    # The connection is free for the caller again.
    assert Message.objects.filter(project=labeled.project, role="assistant").count() >= 6


def test_a_failing_statement_reaches_the_caller(labeled, monkeypatch):
    _answered(labeled.project, "f-1")
    from exports import selectors

    def broken(conversation_ids):
        return ("SELECT id FROM no_such_table", ())

    # The statement that reads a page's conversations, or on PostgreSQL the whole page.
    monkeypatch.setattr(selectors, "_conversations_statement", broken)
    monkeypatch.setattr(selectors, "_ITEMS_SQL", "SELECT id FROM no_such_table -- {answers}")

    with pytest.raises(DatabaseError), transaction.atomic():
        list(export_items(project=labeled.project, filters={}, page_size=2))

    assert not [
        thread for thread in threading.enumerate() if thread.name.startswith("export-reader")
    ]


def test_postgresql_builds_the_same_items_as_the_portable_reader(labeled):
    """The one-statement pages of PostgreSQL against the five-statement ones."""
    if connection.vendor != "postgresql":
        pytest.skip("the one-statement pages are PostgreSQL's")
    from exports.selectors import _items_portable, _items_postgresql

    for n in range(5):
        _answered(labeled.project, f"p-{n}", answers=2)
    project = labeled.project

    built = list(_items_postgresql(project=project, filters={}, page_size=4))
    portable = list(_items_portable(project=project, filters={}, page_size=4))
    limited = list(_items_postgresql(project=project, filters={"limit": 5}, page_size=4))

    assert built == portable
    assert [len(page) for page in limited] == [4, 1]
    items = [item for page in built for item in page]
    # The factory-built project holds every kind of value: Korean text, several votes
    # with reasons, labels of two rubric versions, contexts, tags, missing latencies.
    assert any(item["annotations"] for item in items)
    assert any(len(item["history"]) > 1 for item in items)
    assert any(item["feedback"] and item["feedback"][0]["reasons"] for item in items)
