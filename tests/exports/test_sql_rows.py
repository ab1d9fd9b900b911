"""Raw and eval rows written by PostgreSQL (exports.sql_rows) against the rows Python
builds from the same answers (exports.rows), and the reader's own connections."""

import json
import threading
import time
from pathlib import Path

import orjson
import pytest
from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annotations.models import Annotation, Feedback, Message
from annotations.payloads import ConversationIn
from annotations.services.annotations import annotation_submit
from annotations.services.ingest import conversation_ingest
from exports import selectors, sql_rows
from exports.options import export_options_clean
from exports.rows import RowOptions, _contexts, columns_for
from exports.services import dataset
from exports.services.dataset import dataset_export
from exports.writers import csv_field
from tests.annotations.test_tool_calls import tool_conversation
from tests.exports.conftest import FINE, GOOD, build_labeled_project
from tests.exports.readers import read_rows
from tests.factories import ConversationFactory, FeedbackFactory, MessageFactory

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the database writes rows on PostgreSQL only"
)

# Text that JSON, CSV and SQL each have to get right.
HOSTILE = 'He said "hi", then\\left;\nDROP TABLE x; -- 한국어 \u2028 \x01 emoji 🙂, 끝'


def _hostile_answers(project, rubric_v1):
    """Answers that stress every column: odd contexts, ties, several corrections,
    reasons to count, tool calls, and text that needs escaping everywhere."""
    alice = get_user_model().objects.get(username="alice")
    bob = get_user_model().objects.get(username="bob")
    carol = get_user_model().objects.create(username="carol")
    conversation = ConversationFactory(
        project=project,
        external_id='odd, "one"',
        # A tag whose text looks like the separator PostgreSQL writes between items,
        # and one that PostgreSQL's text of the list would run into the next separator.
        tags=["x", HOSTILE, 'a", "b', 7, 'ends", '],
        end_user=HOSTILE,
    )
    MessageFactory(
        conversation=conversation,
        project=project,
        role="system",
        position=0,
        external_id="s",
        content=HOSTILE,
    )
    MessageFactory(
        conversation=conversation,
        project=project,
        role="user",
        position=1,
        external_id="q",
        content="",
        contexts=[],
    )
    answer = MessageFactory(
        conversation=conversation,
        project=project,
        position=2,
        external_id="a",
        content=f"  {HOSTILE}  ",
        latency_ms=1234,
        contexts=[
            "not an object",
            {"id": 7, "title": None, "text": HOSTILE, "score": 1},
            {"url": "https://x.example/?a=1,b=2", "score": "high"},
            {"id": "doc", "title": "t", "url": "u", "text": "", "score": 0.125, "extra": [1]},
        ],
    )
    # Two reviewers disagree (a tie), one corrects with the answer itself (ignored) and
    # one with text that differs; a model judge says something else.
    annotation_submit(
        message=answer,
        reviewer=alice,
        answers={**GOOD, "corrected_answer": HOSTILE, "errors": ["hallucination"]},
        rubric=rubric_v1,
    )
    annotation_submit(
        message=answer,
        reviewer=bob,
        answers={**FINE, "corrected_answer": f"{HOSTILE} (better)", "errors": []},
        rubric=rubric_v1,
    )
    annotation_submit(
        message=answer,
        reviewer=carol,
        answers={**FINE, "corrected_answer": "   ", "errors": ["outdated", "hallucination"]},
        rubric=rubric_v1,
    )
    for n, (rating, reasons, comment) in enumerate(
        [
            ("down", ["incorrect", "나쁨"], HOSTILE),
            ("down", ["나쁨", "a", 'yes", '], ""),
            ("up", [], '좋아요, "정말"'),
            ("down", ["incorrect"], ""),
            # What only SQL could store: reasons that are no list, or not strings.
            ("down", {"incorrect": 1}, ""),
            ("down", ["incorrect", 3, {"k": [1, "b"]}, None], ""),
        ]
    ):
        FeedbackFactory(
            message=answer, end_user=f"v-{n}", rating=rating, reasons=reasons, comment=comment
        )
    conversation_ingest(
        project=project, conversation=ConversationIn.model_validate(tool_conversation())
    )
    from annotations.models import Message

    tool_answer = Message.objects.get(project=project, external_id="m5")
    FeedbackFactory(message=tool_answer, end_user="t-1", rating="up")


def _export(project, tmp_path: Path, kind: str, file_format: str, name: str, *, split=False):
    raw = {"kind": kind, "format": file_format}
    if split:
        raw.update({"split": "train=0.5,test=0.5", "seed": "7"})
    options, errors = export_options_clean(raw)
    assert options is not None, errors
    output = tmp_path / name if split else tmp_path / f"{name}.{file_format}"
    return options, dataset_export(project=project, options=options, output=output), output


def _rows(output: Path, kind: str, file_format: str, manifest: dict) -> dict[str, list]:
    if output.is_dir():
        return {
            entry["path"]: read_rows(output / entry["path"], file_format, kind)
            for entry in manifest["files"]
        }
    return {"all": read_rows(output, file_format, kind)}


@pytest.mark.parametrize("kind", ["raw", "eval"])
@pytest.mark.parametrize("file_format", ["jsonl", "csv", "parquet"])
def test_database_rows_equal_the_rows_python_builds(db, tmp_path, monkeypatch, kind, file_format):
    labeled = build_labeled_project()
    _hostile_answers(labeled.project, labeled.rubric_v1)
    options, _ = export_options_clean({"kind": kind, "format": file_format})
    assert dataset.database_writes_rows(options)

    _, fast_manifest, fast_output = _export(labeled.project, tmp_path, kind, file_format, "db")
    monkeypatch.setattr(dataset, "database_writes_rows", lambda options: False)
    _, slow_manifest, slow_output = _export(labeled.project, tmp_path, kind, file_format, "python")

    fast_rows = _rows(fast_output, kind, file_format, fast_manifest)["all"]
    slow_rows = _rows(slow_output, kind, file_format, slow_manifest)["all"]
    assert len(fast_rows) == 7
    assert fast_rows == slow_rows
    # Keys in the kind's column order, as Python writes them.
    assert {tuple(row) for row in fast_rows} == {tuple(columns_for(kind, RowOptions()))}
    assert fast_manifest["rubric_versions"] == slow_manifest["rubric_versions"] == [1, 2]
    hostile = next(row for row in fast_rows if row["conversation_id"] == 'odd, "one"')
    if kind == "raw":
        assert hostile["corrected_answer"] == f"{HOSTILE} (better)"
        assert hostile["feedback"]["reasons"] == [
            {"reason": "incorrect", "count": 3},
            {"reason": "나쁨", "count": 2},
            {"reason": "3", "count": 1},
            {"reason": "a", "count": 1},
            {"reason": "null", "count": 1},
            {"reason": 'yes", ', "count": 1},
            {"reason": '{"k": [1, "b"]}', "count": 1},
        ]
        odd_vote = next(vote for vote in hostile["votes"] if vote["user"] == "v-5")
        assert odd_vote["reasons"] == ["incorrect", "3", '{"k": [1, "b"]}', "null"]
        assert [context["id"] for context in hostile["contexts"]] == ["7", None, "doc"]
        assert hostile["contexts"][1]["score"] is None
        if file_format == "jsonl":
            written = fast_output.read_bytes()
            # A whole-number score is still written as a float, as Python writes it.
            assert b'"score":1.0}' in written
            # Lists of strings as compact as Python writes them.
            assert b'"tags":["x","He said' in written
            assert b'"reasons":["incorrect","\xeb\x82\x98\xec\x81\xa8"]' in written
        assert hostile["tags"] == ["x", HOSTILE, 'a", "b', "7", 'ends", ']
        assert hostile["consensus"]["errors"] == ["hallucination"]
    else:
        assert hostile["reference"] == f"{HOSTILE} (better)"
        assert hostile["retrieved_contexts"] == [HOSTILE, "", ""]
        assert hostile["user_input"] == ""


# Text PostgreSQL can hold (no NUL), with what CSV and JSON must escape.
TEXTS = st.text(
    alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",))
    | st.sampled_from([",", '"', "\n", "\r", "\\", "\u2028", "한"]),
    max_size=12,
)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(TEXTS, min_size=1, max_size=30))
def test_the_database_quotes_text_as_csv_field_and_json_do(db, texts):
    """The pieces the database writes for a text column, against csv_field and JSON."""
    csv_sql = sql_rows._csv_piece("t.value", sql_rows.TEXT)[0]
    json_sql = sql_rows._json_piece("t.value", sql_rows.TEXT)[0]
    with connection.cursor() as cursor:
        cursor.execute(
            # The module's own SQL fragments; the texts are a parameter.
            f"SELECT {csv_sql}, {json_sql} FROM unnest(%s::text[]) WITH ORDINALITY AS t(value, n)"  # noqa: S608
            " ORDER BY t.n",
            [texts],
        )
        written = cursor.fetchall()

    assert [csv for csv, _ in written] == [csv_field(text) for text in texts]
    assert [json.loads(text) for _, text in written] == texts


def test_a_null_text_is_an_empty_field_and_a_json_null(db):
    csv_sql = sql_rows._csv_piece("NULL::text", sql_rows.TEXT)[0]
    json_sql = sql_rows._json_piece("NULL::text", sql_rows.TEXT)[0]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {csv_sql}, {json_sql}")
        assert cursor.fetchone() == ("", "null")


def test_the_computed_columns_of_a_kind_must_follow_one_another(monkeypatch):
    columns = dict(sql_rows._COLUMNS)
    columns["raw"] = [
        *columns["raw"][:2],
        ("agreement", None, sql_rows.NUMBER),
        *columns["raw"][2:],
    ]
    monkeypatch.setattr(sql_rows, "_COLUMNS", columns)

    with pytest.raises(ValueError, match="must follow one another"):
        sql_rows.line_layout("raw", "jsonl")


def test_split_exports_place_database_rows_as_python_rows(db, tmp_path, monkeypatch):
    labeled = build_labeled_project()
    _hostile_answers(labeled.project, labeled.rubric_v1)

    _, fast_manifest, fast_output = _export(
        labeled.project, tmp_path, "raw", "jsonl", "db", split=True
    )
    monkeypatch.setattr(dataset, "database_writes_rows", lambda options: False)
    _, slow_manifest, slow_output = _export(
        labeled.project, tmp_path, "raw", "jsonl", "python", split=True
    )

    assert _rows(fast_output, "raw", "jsonl", fast_manifest) == _rows(
        slow_output, "raw", "jsonl", slow_manifest
    )
    assert fast_manifest["rows"] == slow_manifest["rows"]


# Contexts as ingestion stores them, with what the export must turn into the five keys.
ODD_CONTEXTS = [
    {"id": "doc-7", "title": "브로커", "url": None, "text": HOSTILE, "score": 1},
    "not an object",
    {"id": 7, "text": {"nested": [1]}, "score": 1e-7, "extra": True},
    {"score": "high", "title": "", "url": "https://x.example/?a=1,b=2"},
]


def _stored_contexts(contexts_json: str) -> tuple[str, str, list]:
    """An answer's contexts stored as this JSON text (SQL can store what Python cannot
    write), then (export_contexts, eval's texts, the contexts as Django reads them)."""
    answer = MessageFactory(contexts=[{"id": "before"}])
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE annotations_message SET contexts = %s::jsonb WHERE id = %s",
            [contexts_json, answer.pk],
        )
        cursor.execute(
            f"SELECT m.export_contexts, {sql_rows._CONTEXT_TEXTS} "  # noqa: S608
            "FROM annotations_message m WHERE m.id = %s",
            [answer.pk],
        )
        written, texts = cursor.fetchone()
    return written, texts, Message.objects.get(pk=answer.pk).contexts


@pytest.mark.parametrize(
    "contexts_json",
    [
        json.dumps(ODD_CONTEXTS),
        # Texts only strings: eval's texts taken out by one jsonpath query.
        json.dumps([{"text": 'a", "b'}, {"text": "ends in \\"}, {"text": HOSTILE, "id": 3}]),
        # A text ending in `", `, which PostgreSQL writes as `\", "`.
        json.dumps([{"text": 'He said "yes", '}, {"text": "b"}]),
        # Lists inside the list: no contexts (a lax jsonpath would look inside).
        '[[{"text": "a"}], [], {"text": "b"}]',
        # Scores near and beyond a float's range.
        '[{"score": 1e400}, {"score": 1e-400}, {"score": 1.7e308}, {"score": 5e-324},'
        ' {"score": -2}]',
        "[]",
        "[{}]",
        '{"not": "a list"}',
        '"text"',
        "null",
    ],
    ids=[
        "odd",
        "texts",
        "ends-in-separator",
        "nested",
        "scores",
        "empty",
        "one-empty",
        "object",
        "string",
        "json-null",
    ],
)
def test_the_database_keeps_each_answers_contexts_as_the_export_writes_them(db, contexts_json):
    """The stored generated column (annotations migration 0016) that raw rows copy, and
    the texts eval rows take out: the JSON Python writes for the same contexts, as
    stored and after any update."""
    written, texts, stored = _stored_contexts(contexts_json)

    expected = _contexts(stored if isinstance(stored, list) else [])
    assert orjson.loads(written) == expected
    assert orjson.loads(texts) == [context["text"] for context in expected]
    if contexts_json == json.dumps(ODD_CONTEXTS):
        # Whole-number scores as floats, and no space, as Python writes them.
        assert written.startswith('[{"id":"doc-7","title":"브로커","url":null,"text":"He said')
        assert (
            '"score":1.0},{"id":"7","title":null,"url":null,"text":"{\\"nested\\": [1]}"' in written
        )
    if "1e400" in contexts_json:
        scores = [context["score"] for context in orjson.loads(written)]
        assert scores == [None, 0.0, 1.7e308, 5e-324, -2.0]


# Strings with what JSON escapes, and endings PostgreSQL's list text makes look like a
# separator.
LIST_ITEMS = st.one_of(TEXTS, st.sampled_from(['", ', 'a", ', "\\", '\\", ', '", "', ", "]))


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(LIST_ITEMS, max_size=6))
def test_the_database_writes_lists_of_strings_as_python_does(db, items):
    """Tags (_compact_list), a vote's reasons (migration 0017) and eval's texts of
    contexts (_CONTEXT_TEXTS), against Python's JSON of the same list."""
    contexts = json.dumps([{"text": item} for item in items])
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {sql_rows._compact_list('t.items')}, "  # noqa: S608
            "export_vote_json('u', 'up', t.items, '', 'api', now()), "
            f"{sql_rows._CONTEXT_TEXTS} "
            "FROM (SELECT %s::jsonb AS items, %s::jsonb AS contexts) t, "
            "LATERAL (SELECT t.contexts) AS m(contexts)",
            [json.dumps(items), contexts],
        )
        tags, vote, texts = cursor.fetchone()

    assert orjson.loads(tags) == items
    assert orjson.loads(vote)["reasons"] == items
    assert f'"reasons":{orjson.dumps(items).decode()},' in vote
    assert orjson.loads(texts) == items
    # Compact, as Python writes lists.
    assert tags.encode() == orjson.dumps(items)


@pytest.mark.parametrize("file_format", ["jsonl", "parquet"])
def test_numbers_beyond_what_orjson_reads_export_alike_both_ways(
    db, tmp_path, monkeypatch, file_format
):
    """Numbers only SQL can store, beyond 64 bits or a float's range, where the export
    writes text or a float: both builders write them, and alike."""
    labeled = build_labeled_project()
    answer = (
        Message.objects.filter(project=labeled.project, role="assistant", feedback__isnull=False)
        .select_related("conversation")
        .first()
    )
    huge = "1" + "0" * 400
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE annotations_message SET contexts = %s::jsonb WHERE id = %s",
            [f'[{{"id": {huge}, "text": "t", "score": {huge}}}, {{"score": 1e400}}]', answer.pk],
        )
        cursor.execute(
            "UPDATE annotations_feedback SET reasons = %s::jsonb WHERE message_id = %s",
            [f'["a", {huge}]', answer.pk],
        )

    _, fast_manifest, fast_output = _export(labeled.project, tmp_path, "raw", file_format, "db")
    monkeypatch.setattr(dataset, "database_writes_rows", lambda options: False)
    _, slow_manifest, slow_output = _export(labeled.project, tmp_path, "raw", file_format, "python")

    fast_rows = _rows(fast_output, "raw", file_format, fast_manifest)["all"]
    assert fast_rows == _rows(slow_output, "raw", file_format, slow_manifest)["all"]
    row = next(
        row
        for row in fast_rows
        if (row["conversation_id"], row["message_id"])
        == (answer.conversation.external_id, answer.external_id)
    )
    assert [context["id"] for context in row["contexts"]] == [huge, None]
    assert [context["score"] for context in row["contexts"]] == [None, None]
    assert ["a", huge] in [vote["reasons"] for vote in row["votes"]]
    assert {"reason": huge, "count": 1} in row["feedback"]["reasons"]


def _iso(table: str, column: str, pk: int) -> str:
    """A stored time as the export writes it (ISO 8601 in UTC, by the database)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT to_json({column}) #>> '{{}}' FROM {table} WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


def test_the_database_keeps_each_vote_and_the_end_of_each_label_as_the_export_writes_them(db):
    """The stored generated columns of annotations migration 0017, after an update made
    in a session whose time zone is not UTC: what raw rows copy follows the row, with
    times in UTC."""
    labeled = build_labeled_project()
    vote = Feedback.objects.filter(project=labeled.project).first()
    label = Annotation.objects.filter(project=labeled.project).first()
    with connection.cursor() as cursor:
        cursor.execute("SET TIME ZONE 'Asia/Seoul'")
        try:
            Feedback.objects.filter(pk=vote.pk).update(
                rating="down", reasons=["incorrect", 3], comment=HOSTILE, source="widget"
            )
            Annotation.objects.filter(pk=label.pk).update(corrected_answer=HOSTILE)
        finally:
            cursor.execute("SET TIME ZONE 'UTC'")
        cursor.execute("SELECT export_vote FROM annotations_feedback WHERE id = %s", [vote.pk])
        written_vote = cursor.fetchone()[0]
        cursor.execute("SELECT export_tail FROM annotations_annotation WHERE id = %s", [label.pk])
        written_tail = cursor.fetchone()[0]

    vote.refresh_from_db()
    assert orjson.loads(written_vote) == {
        "user": vote.end_user,
        "rating": "down",
        "reasons": ["incorrect", "3"],
        "comment": HOSTILE,
        "source": "widget",
        "created_at": _iso("annotations_feedback", "created_at", vote.pk),
    }
    assert orjson.loads('{"a":0' + written_tail) == {
        "a": 0,
        "corrected_answer": HOSTILE,
        "created_at": _iso("annotations_annotation", "created_at", label.pk),
        "updated_at": _iso("annotations_annotation", "updated_at", label.pk),
    }
    assert written_vote.endswith('+00:00"}') and written_tail.endswith('+00:00"}')


def test_redacted_exports_are_built_in_python(db):
    options, _ = export_options_clean({"kind": "raw", "format": "jsonl", "redact_pii": True})
    other, _ = export_options_clean({"kind": "sft", "format": "jsonl"})

    assert not dataset.database_writes_rows(options)
    assert not dataset.database_writes_rows(other)


def _backends() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def _settle(expected: int) -> int:
    """The number of other backends, once it has come down to `expected` (a closed
    connection's backend takes a moment to leave pg_stat_activity)."""
    deadline = time.monotonic() + 5
    while (count := _backends()) > expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return count


@pytest.mark.django_db(transaction=True)
def test_pages_read_over_the_readers_own_connections_come_in_order(tmp_path, settings, monkeypatch):
    """Outside a transaction pages run several at once, each on a connection of the
    export's own; the file is the same as when they run one by one on the caller's."""
    labeled = build_labeled_project()
    for n in range(9):
        conversation = ConversationFactory(project=labeled.project, external_id=f"p-{n}")
        answer = MessageFactory(
            conversation=conversation, project=labeled.project, external_id="a", position=0
        )
        FeedbackFactory(message=answer, rating="up")
    monkeypatch.setattr(selectors, "PAGE_SIZE", 2)
    opened = []
    real_open = selectors._Reader._open
    monkeypatch.setattr(
        selectors._Reader, "_open", lambda self: opened.append(real_open(self)) or opened[-1]
    )
    before = _backends()

    settings.EXPORT_READ_CONNECTIONS = 3
    _, parallel, parallel_output = _export(labeled.project, tmp_path, "raw", "jsonl", "parallel")
    settings.EXPORT_READ_CONNECTIONS = 0
    _, serial, serial_output = _export(labeled.project, tmp_path, "raw", "jsonl", "serial")

    assert len(opened) == 3
    assert parallel_output.read_bytes() == serial_output.read_bytes()
    assert parallel["rows_total"] == serial["rows_total"] == 14
    ids = [json.loads(line)["conversation_id"] for line in parallel_output.open()]
    assert ids == sorted(ids, key=lambda name: (not name.startswith("c"), name))
    # Every connection the reader opened is closed again.
    assert all(wrapper.connection is None for wrapper in opened)
    assert _settle(before) == before
    assert not [thread for thread in threading.enumerate() if thread.name.startswith("export-")]


@pytest.mark.django_db(transaction=True)
def test_every_page_reads_the_snapshot_the_export_started_on(tmp_path, settings, monkeypatch):
    """A vote deleted and an answer labeled after the ids are listed, before their
    pages are read: the file holds the data as it was when the export started."""
    labeled = build_labeled_project()
    answers = []
    for n in range(4):
        conversation = ConversationFactory(project=labeled.project, external_id=f"s-{n}")
        answer = MessageFactory(
            conversation=conversation, project=labeled.project, external_id="a", position=0
        )
        FeedbackFactory(message=answer, rating="up", end_user=f"voter-{n}")
        answers.append(answer)
    settings.EXPORT_READ_CONNECTIONS = 2
    monkeypatch.setattr(selectors, "PAGE_SIZE", 1)
    real_run = selectors._Reader._run
    changed = threading.Event()

    def run_then_change(self, statement, binary=False):
        rows = real_run(self, statement, binary)
        if not changed.is_set():
            # After the first listing, from another connection, committed.
            changed.set()
            other = connections.create_connection(DEFAULT_DB_ALIAS)
            try:
                with other.cursor() as cursor:
                    cursor.execute(
                        "DELETE FROM annotations_feedback WHERE message_id = %s", [answers[3].pk]
                    )
                    cursor.execute(
                        "UPDATE annotations_feedback SET comment = 'later' WHERE message_id = %s",
                        [answers[2].pk],
                    )
            finally:
                other.close()
        return rows

    monkeypatch.setattr(selectors._Reader, "_run", run_then_change)
    before = _backends()

    _, manifest, output = _export(labeled.project, tmp_path, "raw", "jsonl", "snapshot")

    rows = {row["conversation_id"]: row for row in map(json.loads, output.open())}
    assert changed.is_set()
    assert [vote["user"] for vote in rows["s-3"]["votes"]] == ["voter-3"]
    assert rows["s-2"]["votes"][0]["comment"] == ""
    assert manifest["rows_total"] == len(rows)
    # The vote is gone for whatever reads next.
    assert not Feedback.objects.filter(message=answers[3]).exists()
    assert _settle(before) == before


@pytest.mark.django_db(transaction=True)
def test_a_failing_page_on_an_own_connection_reaches_the_caller(tmp_path, settings, monkeypatch):
    labeled = build_labeled_project()
    settings.EXPORT_READ_CONNECTIONS = 2
    monkeypatch.setattr(dataset.sql_rows, "page_sql", lambda kind, file_format: "SELECT nope(%s)")
    before = _backends()

    with pytest.raises(DatabaseError):
        _export(labeled.project, tmp_path, "raw", "jsonl", "broken")

    assert not list(tmp_path.iterdir())
    assert _settle(before) == before
    assert not [thread for thread in threading.enumerate() if thread.name.startswith("export-")]


SETTINGS_SQL = (
    "SELECT current_setting('jit'), current_setting('enable_hashagg'), "
    "current_setting('plan_cache_mode') FROM unnest(%s::bigint[]) LIMIT 1"
)
EXPORT_SETTINGS = ("off", "off", "force_custom_plan")


def _settings_seen(project) -> list:
    return [
        row
        for page in selectors.export_pages(project=project, filters={}, sql=SETTINGS_SQL)
        for row in page
    ]


def test_pages_run_with_the_export_settings_and_leave_the_connection_as_it_was(db):
    """Inside a transaction the pages run on the caller's connection, with the planner
    settings of exports (a generic plan of the page statement ran four times slower),
    which are then put back."""
    labeled = build_labeled_project()
    with connection.cursor() as cursor:
        cursor.execute("SET plan_cache_mode = force_generic_plan")

    assert _settings_seen(labeled.project) == [EXPORT_SETTINGS]

    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('plan_cache_mode'), current_setting('jit')")
        assert cursor.fetchone() == ("force_generic_plan", "on")


@pytest.mark.django_db(transaction=True)
def test_the_readers_own_connections_run_with_the_export_settings(settings, monkeypatch):
    labeled = build_labeled_project()
    settings.EXPORT_READ_CONNECTIONS = 2
    monkeypatch.setattr(selectors, "PAGE_SIZE", 1)

    assert _settings_seen(labeled.project) == [EXPORT_SETTINGS] * 5
