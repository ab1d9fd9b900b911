"""Raw and eval rows written by PostgreSQL, a page of answers per statement.

The database turns a page of answers into the columns of the kind's rows: the
nested columns (history, contexts, votes, labels...) as JSON text, the others as
values, with the same keys, defaults and order as exports.rows builds them in
Python. Python only adds the columns that need the rubric (consensus, agreement,
corrected answer, reference, labels: see RowEncoder) and writes the line. The values
are the same as Python's; the text may differ where PostgreSQL writes JSON stored in
the database (tags, tool calls, vote reasons, label answers) with a space after each
comma and colon.

Each part of a row is read for the whole page at once (the page's conversations,
their messages, the votes and the labels of its answers, each by one index scan
over an array of keys) and grouped by answer, instead of one subquery per answer:
a subquery per answer and per part, and above all an aggregate that sorts its
input per answer, cost more than the rest of the statement.

Aggregates take their rows in the order of the sorted subquery they read, as
PostgreSQL feeds a GroupAggregate (an `ORDER BY` inside the aggregate would sort
again for every answer).
"""

import operator
from dataclasses import dataclass
from typing import Any

import orjson

from exports.rows import (
    HUMAN,
    Item,
    QuestionsByVersion,
    RubricIndex,
    agreement_of,
    answers_by_question,
    consensus_of,
    corrected_answer,
    reason_counts,
    reference_answer,
)
from exports.writers import csv_record

# Columns of every row statement before the kind's own (whose first is the
# conversation's external id, which places the row in a split): the answer's id, the
# rubric versions of its labels, its
# human labels' answers (the consensus), its human corrections with the answer they
# correct, and its votes' reason lists (the last three only where there are some).
LEAD_COLUMNS = (
    "id",
    "rubric_versions",
    "consensus_key",
    "corrections",
    "answer",
    "reason_lists",
)
LEAD = len(LEAD_COLUMNS)


def _json_string(column: str, known: tuple[str, ...]) -> str:
    """SQL for a text column as a JSON string, with the values of a choices field
    written as constants (to_json costs a type lookup and three copies a call)."""
    cases = " ".join(f"WHEN '{value}' THEN '\"{value}\"'" for value in known)
    return f"CASE {column} {cases} ELSE to_json(COALESCE({column}, ''))::text END"


# A message of a row's history, as exports.rows.history_message writes it.
_HISTORY_MESSAGE = (
    """'{"role":' || """
    + _json_string("h.role", ("user", "assistant", "system", "tool"))
    + """
    || ',"content":' || to_json(COALESCE(h.content, ''))
    || CASE WHEN h.tool_calls <> '[]' AND jsonb_typeof(h.tool_calls) = 'array'
            THEN ',"tool_calls":' || h.tool_calls::text ELSE '' END
    || CASE WHEN h.tool_call_id <> '' THEN ',"tool_call_id":' || to_json(h.tool_call_id) ELSE '' END
    || '}'"""
)

# A retrieved context, as exports.rows._contexts writes it: the five keys, id, title and
# url as text or null, text as text, score as a number or null.
_CONTEXT = """'{"id":' || COALESCE(to_json(x.value->>'id')::text, 'null')
    || ',"title":' || COALESCE(to_json(x.value->>'title')::text, 'null')
    || ',"url":' || COALESCE(to_json(x.value->>'url')::text, 'null')
    || ',"text":' || to_json(COALESCE(x.value->>'text', ''))
    -- A float as Python writes it: 1.0, not 1.
    || ',"score":' || CASE WHEN x.score IS NULL THEN 'null'
                           WHEN strpos(x.score, '.') + strpos(x.score, 'e') = 0
                           THEN x.score || '.0' ELSE x.score END
    || '}'"""

_VOTE = (
    """'{"user":' || to_json(COALESCE(f.end_user, ''))
    || ',"rating":' || """
    + _json_string("f.rating", ("up", "down"))
    + """
    || ',"reasons":' || CASE WHEN jsonb_typeof(f.reasons) = 'array' THEN f.reasons::text ELSE '[]' END
    || ',"comment":' || to_json(COALESCE(f.comment, ''))
    || ',"source":' || """
    + _json_string("f.source", ("api", "widget"))
    + """
    || ',"created_at":' || to_json(f.created_at)
    || '}'"""
)


def _annotation(parquet: bool) -> str:
    # Parquet holds the answers as JSON text (their types follow the rubric).
    answers = "to_json(a.answers)::text" if parquet else "a.answers"
    return f"""'{{"annotator":' || to_json(COALESCE(a.annotator_name, ''))
    || ',"source":' || {_json_string("a.source", ("human", "model"))}
    || ',"rubric_version":' || COALESCE(a.version::text, 'null')
    || ',"answers":' || {answers}
    || ',"corrected_answer":' || to_json(COALESCE(a.corrected_answer, ''))
    || ',"created_at":' || to_json(a.created_at)
    || ',"updated_at":' || to_json(a.updated_at)
    || '}}'"""


_PAGE = """
WITH m AS MATERIALIZED (
    SELECT m.id, m.conversation_id, m.position, m.external_id, m.content, m.contexts,
           m.model, m.prompt_name, m.prompt_version, m.latency_ms, m.created_at
    FROM annotations_message m WHERE m.id = ANY(%s::bigint[])
),
conversation AS (
    SELECT c.id, c.external_id, c.tags, c.end_user FROM annotations_conversation c
    WHERE c.id IN (SELECT m.conversation_id FROM m)
),
history AS (
    SELECT turn.answer_id,
           '[' || string_agg(turn.message, ',') || ']' AS messages,
           (array_agg(turn.content) FILTER (WHERE turn.role = 'user'))[
               count(*) FILTER (WHERE turn.role = 'user')] AS user_input
    FROM (
        SELECT m.id AS answer_id, h.role, COALESCE(h.content, '') AS content,
               {history_message} AS message
        FROM m
        JOIN annotations_message h
          ON h.conversation_id = m.conversation_id AND h.position < m.position
        WHERE h.conversation_id IN (SELECT m.conversation_id FROM m)
        ORDER BY m.id, h.position
    ) turn
    GROUP BY turn.answer_id
),
context AS (
    SELECT x.answer_id,
           '[' || string_agg({context}, ',') || ']' AS contexts,
           '[' || string_agg(to_json(COALESCE(x.value->>'text', ''))::text, ',') || ']' AS texts
    FROM (
        SELECT m.id AS answer_id, e.value,
               CASE WHEN jsonb_typeof(e.value->'score') = 'number'
                    THEN (e.value->>'score')::float8::text END AS score
        FROM m, jsonb_array_elements(
            CASE WHEN jsonb_typeof(m.contexts) = 'array' THEN m.contexts END
        ) WITH ORDINALITY AS e(value, n)
        WHERE jsonb_typeof(e.value) = 'object'
        ORDER BY m.id, e.n
    ) x
    GROUP BY x.answer_id
),
votes AS (
    SELECT f.message_id,
           count(*) FILTER (WHERE f.rating = 'up') AS up,
           count(*) FILTER (WHERE f.rating = 'down') AS down,
           '[' || COALESCE(string_agg(to_json(f.comment)::text, ',')
                           FILTER (WHERE f.comment <> ''), '') || ']' AS comments,
           '[' || string_agg({vote}, ',') || ']' AS votes,
           -- The votes' reason lists, counted in Python (exports.rows.reason_counts).
           string_agg(f.reasons::text, ',')
               FILTER (WHERE jsonb_typeof(f.reasons) = 'array' AND f.reasons <> '[]')
               AS reason_lists
    FROM (
        SELECT f.message_id, f.end_user, f.rating, f.reasons, f.comment, f.source,
               f.created_at
        FROM annotations_feedback f
        WHERE f.message_id IN (SELECT m.id FROM m)
        ORDER BY f.message_id, f.created_at, f.id
    ) f
    GROUP BY f.message_id
),
label AS (
    SELECT a.message_id,
           '[' || string_agg({annotation}, ',') || ']' AS annotations,
           string_agg(a.version::text, ',') AS versions,
           '[' || string_agg('[' || COALESCE(a.version::text, 'null') || ',' || a.answers || ']', ',')
                  FILTER (WHERE a.source = 'human') || ']' AS consensus_key,
           '[' || string_agg('[' || COALESCE(a.version::text, 'null') || ',' || a.answers
                             || ',' || to_json(a.corrected_answer) || ','
                             || to_json(a.updated_at) || ']', ',')
                  FILTER (WHERE a.source = 'human' AND a.corrected_answer <> '') || ']'
               AS corrections
    FROM (
        -- The answers as JSON text once, for the labels and the consensus.
        SELECT a.message_id, a.annotator_name, a.source, r.version,
               COALESCE(NULLIF(a.answers, 'null'::jsonb), '{{}}'::jsonb)::text AS answers,
               a.corrected_answer, a.created_at, a.updated_at
        FROM annotations_annotation a
        LEFT JOIN annotations_rubric r ON r.id = a.rubric_id
        WHERE a.message_id IN (SELECT m.id FROM m)
        ORDER BY a.message_id, a.created_at, a.id
    ) a
    GROUP BY a.message_id
)
SELECT m.id, label.versions, COALESCE(label.consensus_key, '[]'),
       label.corrections, CASE WHEN label.corrections IS NOT NULL THEN m.content END,
       votes.reason_lists,
       {columns}
FROM m
JOIN conversation c ON c.id = m.conversation_id
LEFT JOIN history ON history.answer_id = m.id
LEFT JOIN context ON context.answer_id = m.id
LEFT JOIN votes ON votes.message_id = m.id
LEFT JOIN label ON label.message_id = m.id
ORDER BY m.id
"""

_FEEDBACK = """'{"up":' || COALESCE(votes.up, 0) || ',"down":' || COALESCE(votes.down, 0)
    || ',"reasons":[]'
    || ',"comments":' || COALESCE(votes.comments, '[]') || '}'"""

# Per kind, (column, SQL expression) for the columns the database writes, each either
# a value ("text", "number") or JSON text ("json"); None for those Python adds.
TEXT, NUMBER, JSON = "text", "number", "json"
# Columns both kinds share.
_CONVERSATION_ID = ("conversation_id", "c.external_id", TEXT)
_MESSAGE_ID = ("message_id", "m.external_id", TEXT)
_HISTORY = ("history", "COALESCE(history.messages, '[]')", JSON)
_FEEDBACK_SUMMARY = ("feedback", _FEEDBACK, JSON)
_ANSWER = "COALESCE(m.content, '')"
_COLUMNS: dict[str, list[tuple[str, str | None, str]]] = {
    "raw": [
        _CONVERSATION_ID,
        _MESSAGE_ID,
        ("created_at", "btrim(to_json(m.created_at)::text, '\"')", TEXT),
        ("tags", "CASE WHEN jsonb_typeof(c.tags) = 'array' THEN c.tags::text ELSE '[]' END", JSON),
        ("end_user", "COALESCE(c.end_user, '')", TEXT),
        _HISTORY,
        ("answer", _ANSWER, TEXT),
        ("contexts", "COALESCE(context.contexts, '[]')", JSON),
        ("model", "COALESCE(m.model, '')", TEXT),
        ("prompt_name", "COALESCE(m.prompt_name, '')", TEXT),
        ("prompt_version", "COALESCE(m.prompt_version, '')", TEXT),
        ("latency_ms", "m.latency_ms", NUMBER),
        _FEEDBACK_SUMMARY,
        ("votes", "COALESCE(votes.votes, '[]')", JSON),
        ("annotations", "COALESCE(label.annotations, '[]')", JSON),
        ("consensus", None, JSON),
        ("agreement", None, NUMBER),
        ("gold_label", None, JSON),
        ("corrected_answer", None, TEXT),
    ],
    "eval": [
        _CONVERSATION_ID,
        _MESSAGE_ID,
        ("user_input", "COALESCE(history.user_input, '')", TEXT),
        _HISTORY,
        ("response", _ANSWER, TEXT),
        ("retrieved_contexts", "COALESCE(context.texts, '[]')", JSON),
        ("reference", None, TEXT),
        ("labels", None, JSON),
        _FEEDBACK_SUMMARY,
    ],
}

KINDS = tuple(_COLUMNS)


@dataclass(frozen=True)
class Column:
    name: str
    # "text", "number" or "json" (JSON text from the database, or a value Python
    # computes and serializes).
    type: str
    # Whether Python computes it (see RowEncoder).
    computed: bool


def columns(kind: str) -> list[Column]:
    return [Column(name, type_, sql is None) for name, sql, type_ in _COLUMNS[kind]]


def page_sql(kind: str, *, parquet: bool = False) -> str:
    """The statement that writes the rows of a page of answers, given their ids as
    its one parameter (an array literal), in id order: LEAD_COLUMNS, then the
    kind's database columns.

    The JSON columns come as UTF-8 bytes (bytea; run the statement with binary
    results, which carry them as they are): they go into the lines as they are,
    without being decoded into Python strings and encoded again.
    """
    # textsend: the text's bytes in the client encoding, which Django sets to UTF8 on
    # its connections (convert_to would check every byte of it again).
    selected = ",\n       ".join(
        f"textsend({sql})" if type_ == JSON else sql
        for _, sql, type_ in _COLUMNS[kind]
        if sql is not None
    )
    return _PAGE.format(
        history_message=_HISTORY_MESSAGE,
        context=_CONTEXT,
        vote=_VOTE,
        annotation=_annotation(parquet),
        columns=selected,
    )


# Distinct label sets whose consensus is kept: most answers of a project share a few.
CONSENSUS_CACHE_SIZE = 50_000


class RowEncoder:
    """Completes the rows a page statement wrote and encodes them for one file format.

    `encode(row)` takes a row of the statement (LEAD_COLUMNS, then the kind's database
    columns, JSON as UTF-8 bytes) and returns the line for the file, in UTF-8: a JSON
    line for JSON Lines and Parquet (whose writer parses them with Arrow), a CSV
    record for CSV. It runs once per row: JSON lines are written from a dict literal
    per kind, CSV records from the row's values put in column order by one itemgetter.
    """

    def __init__(
        self, kind: str, file_format: str, questions_by_version: QuestionsByVersion
    ) -> None:
        self.kind = kind
        self.file_format = file_format
        self.questions = (
            questions_by_version
            if isinstance(questions_by_version, RubricIndex)
            else RubricIndex(questions_by_version)
        )
        kind_columns = columns(kind)
        stored = [column for column in kind_columns if not column.computed]
        computed = [column for column in kind_columns if column.computed]
        # Values arrive as the database's columns followed by the computed ones.
        arrival = [*stored, *computed]
        self.order = operator.itemgetter(*(arrival.index(column) for column in kind_columns))
        # Parquet holds the rubric-shaped maps (consensus, labels) as JSON text.
        self.as_text = file_format == "parquet"
        self.feedback_index = [column.name for column in stored].index("feedback")
        self.consensus_cache: dict[str, tuple[dict[str, Any], float | None]] = {}

    def consensus(self, key: str) -> tuple[dict[str, Any], float | None]:
        """(consensus, agreement) of the human labels given as [[rubric version, answers]]."""
        found = self.consensus_cache.get(key)
        if found is None:
            if len(self.consensus_cache) >= CONSENSUS_CACHE_SIZE:
                self.consensus_cache.clear()
            labels = [
                {"source": HUMAN, "rubric_version": version, "answers": answers}
                for version, answers in orjson.loads(key)
            ]
            answered = answers_by_question(labels, self.questions)
            found = (consensus_of(answered), agreement_of(answered))
            self.consensus_cache[key] = found
        return found

    @staticmethod
    def _corrected_item(corrections: str, answer: str | None) -> Item:
        return {
            "answer": answer or "",
            "annotations": [
                {
                    "source": HUMAN,
                    "rubric_version": version,
                    "answers": answers,
                    "corrected_answer": text,
                    "updated_at": updated_at,
                }
                for version, answers, text, updated_at in orjson.loads(corrections)
            ],
        }

    def computed(self, consensus_key: str, corrections: str | None, answer: str | None) -> list:
        """The values Python adds, in the kind's column order."""
        consensus, agreement = self.consensus(consensus_key)
        if self.kind == "raw":
            corrected = (
                corrected_answer(self._corrected_item(corrections, answer)) if corrections else ""
            )
            return [consensus, agreement, None, corrected]
        reference = (
            reference_answer(self._corrected_item(corrections, answer), self.questions)
            if corrections
            else ""
        )
        return [reference, consensus]

    @staticmethod
    def feedback(summary: bytes, reason_lists: str | None) -> bytes:
        """The feedback summary the database wrote, with the reasons counted from the
        votes' reason lists. The summary starts `{"up":N,"down":N,"reasons":[]`, so the
        first `"reasons":[]` in it is that key, whatever the comments after it hold."""
        if not reason_lists:
            return summary
        counted = orjson.dumps(reason_counts(orjson.loads("[" + reason_lists + "]")))
        return summary.replace(b'"reasons":[]', b'"reasons":' + counted, 1)

    def values(self, row: tuple) -> tuple:
        """The row's values in column order: the database's as they came (JSON as UTF-8
        bytes), the computed ones as Python values."""
        stored = list(row[LEAD:])
        if row[5]:
            stored[self.feedback_index] = self.feedback(stored[self.feedback_index], row[5])
        return self.order([*stored, *self.computed(row[2], row[3], row[4])])

    def encode(self, row: tuple) -> bytes:
        if self.file_format == "csv":
            return csv_record(self.values(row))
        if self.kind == "raw":
            return self._raw_line(row)
        return self._eval_line(row)

    # JSON lines are written by hand for each kind, a dict literal a row: building them
    # from the column lists took twice as long, a fifth of Python's time in an export.
    # test_sql_rows checks their keys against the kind's columns.

    def _map(self, value: dict[str, Any]) -> Any:
        """A rubric-shaped map: as it is in JSON Lines, as JSON text in Parquet."""
        return orjson.dumps(value).decode() if self.as_text else value

    def _raw_line(self, row: tuple) -> bytes:
        (
            _,
            _,
            consensus_key,
            corrections,
            answer,
            reason_lists,
            conversation_id,
            message_id,
            created_at,
            tags,
            end_user,
            history,
            text,
            contexts,
            model,
            prompt_name,
            prompt_version,
            latency_ms,
            feedback,
            votes,
            annotations,
        ) = row
        consensus, agreement, gold_label, corrected = self.computed(
            consensus_key, corrections, answer
        )
        return orjson.dumps(
            {
                "conversation_id": conversation_id,
                "message_id": message_id,
                "created_at": created_at,
                "tags": orjson.Fragment(tags),
                "end_user": end_user,
                "history": orjson.Fragment(history),
                "answer": text,
                "contexts": orjson.Fragment(contexts),
                "model": model,
                "prompt_name": prompt_name,
                "prompt_version": prompt_version,
                "latency_ms": latency_ms,
                "feedback": orjson.Fragment(self.feedback(feedback, reason_lists)),
                "votes": orjson.Fragment(votes),
                "annotations": orjson.Fragment(annotations),
                "consensus": self._map(consensus),
                "agreement": agreement,
                "gold_label": gold_label,
                "corrected_answer": corrected,
            },
            option=orjson.OPT_APPEND_NEWLINE,
        )

    def _eval_line(self, row: tuple) -> bytes:
        (
            _,
            _,
            consensus_key,
            corrections,
            answer,
            reason_lists,
            conversation_id,
            message_id,
            user_input,
            history,
            response,
            retrieved_contexts,
            feedback,
        ) = row
        reference, consensus = self.computed(consensus_key, corrections, answer)
        return orjson.dumps(
            {
                "conversation_id": conversation_id,
                "message_id": message_id,
                "user_input": user_input,
                "history": orjson.Fragment(history),
                "response": response,
                "retrieved_contexts": orjson.Fragment(retrieved_contexts),
                "reference": reference,
                "labels": self._map(consensus),
                "feedback": orjson.Fragment(self.feedback(feedback, reason_lists)),
            },
            option=orjson.OPT_APPEND_NEWLINE,
        )
