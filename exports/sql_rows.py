"""Raw and eval lines written by PostgreSQL, a page of answers per statement.

The database writes each row's whole line (a JSON object for JSON Lines and for the
lines Parquet parses, a CSV record for CSV), with the same keys, defaults and order
as exports.rows builds them in Python, in segments around the pieces Python adds:
the counted reasons of the feedback summary and the columns that need the rubric
(consensus, agreement, corrected answer, reference, labels: see RowEncoder). The
values are the same as Python's; the text may differ where PostgreSQL writes JSON
objects stored in the database (tool calls, label answers) with a space after each
comma and colon, eval's retrieved_contexts with one after each comma, and scores of
1e15 and more as `1e+15`. One exception, for data only SQL can store: a number where
a text belongs (a context's id or text, an item of a list of strings) becomes the
number's text as PostgreSQL keeps it (`1.50`, `0.0000001`), where Python writes the
float it reads (`1.5`, `1e-07`).

Each part of a row is read for the whole page at once (the page's conversations by
one index scan over an array of keys; the messages before each answer, its votes and
its labels by an index scan per answer) and grouped by answer, instead of one
subquery per answer and per part: those, and above all an aggregate that sorts its
input per answer, cost more than the rest of the statement.

Aggregates take their rows in the order of the sorted subquery they read, as
PostgreSQL feeds a GroupAggregate (an `ORDER BY` inside the aggregate would sort
again for every answer).

What does not change from one export to the next is kept written by the database, in
stored generated columns it fills whenever a row is inserted or changed: an answer's
retrieved contexts (`export_contexts`, annotations migration 0016), each vote
(`export_vote`) and the end of each label (`export_tail`, migration 0017). Raw pages
copy them; those migrations hold the SQL that writes them, which must write what
exports.rows writes.
"""

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
    json_loads,
    reason_counts,
    reference_answer,
)
from exports.writers import csv_field

# Columns of every page statement before the conversation's external id (which places
# the row in a split) and the line's segments: the answer's id, the rubric versions of
# its labels, its human labels' answers (the consensus), its human corrections with the
# answer they correct, and its votes' reason lists (the last three only where there
# are some).
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


# A jsonpath filter for the items of a list that PostgreSQL's text of the list does not
# write as compact JSON by dropping the space after each separator: items that are no
# string, and the strings `, ` and those that end in `", ` (written `", "` and
# `"...\", "`, which read as a separator).
_NOT_PLAIN_STRINGS = r"""'strict $[*] ? (@.type() != "string" || @ like_regex "(^, |\", )$")'"""


def _compact_list(column: str) -> str:
    """SQL for a jsonb list of strings (a conversation's tags; annotations migration 0017
    writes a vote's reasons the same way) as compact JSON text, as
    exports.rows.string_list writes it. PostgreSQL writes `["a", "b"]`; where no item
    is left out by _NOT_PLAIN_STRINGS, `", "` can only be a separator. Otherwise each
    item is written on its own: a string as it is, anything else (which only SQL can
    store now) as its JSON text. A value that is no list is an empty list."""
    return f"""CASE WHEN COALESCE(jsonb_typeof({column}), '') <> 'array' THEN '[]'
        WHEN NOT jsonb_path_exists({column}, {_NOT_PLAIN_STRINGS})
        THEN replace({column}::text, '", "', '","')
        ELSE (SELECT '[' || string_agg(CASE WHEN jsonb_typeof(e.item) = 'string'
                                            THEN e.item::text
                                            ELSE to_json(e.item::text)::text END,
                                       ',' ORDER BY e.n) || ']'
              FROM jsonb_array_elements({column}) WITH ORDINALITY AS e(item, n)) END"""  # noqa: S608 - column is this module's own


def _annotation(parquet: bool) -> str:
    """A label as exports.rows.raw_row writes it; from corrected_answer on, as PostgreSQL
    wrote it when the label was stored (annotations migration 0017)."""
    # Parquet holds the answers as JSON text (their types follow the rubric).
    answers = "to_json(a.answers)::text" if parquet else "a.answers"
    return f"""'{{"annotator":' || to_json(COALESCE(a.annotator_name, ''))
    || ',"source":' || {_json_string("a.source", ("human", "model"))}
    || ',"rubric_version":' || COALESCE(a.version::text, 'null')
    || ',"answers":' || {answers} || a.export_tail"""


_PAGE = """
WITH m AS MATERIALIZED (
    SELECT m.id, m.conversation_id, m.position, m.external_id, m.content, {contexts},
           m.model, m.prompt_name, m.prompt_version, m.latency_ms, m.created_at
    FROM annotations_message m WHERE m.id = ANY(%s::bigint[])
),
conversation AS (
    SELECT c.id, c.external_id, c.end_user,
           {compact_tags} AS tags
    FROM annotations_conversation c
    WHERE c.id IN (SELECT m.conversation_id FROM m)
),
history AS (
    SELECT turn.answer_id,
           '[' || string_agg(turn.message, ',') || ']' AS messages{user_input}
    FROM (
        SELECT m.id AS answer_id, h.role, h.content, {history_message} AS message
        FROM m
        -- An index scan per answer (one over the page's conversations, hashed and
        -- joined back to the answers, cost more).
        JOIN annotations_message h
          ON h.conversation_id = m.conversation_id AND h.position < m.position
        ORDER BY m.id, h.position
    ) turn
    GROUP BY turn.answer_id
),
votes AS (
    SELECT f.message_id,
           count(*) FILTER (WHERE f.rating = 'up') AS up,
           count(*) FILTER (WHERE f.rating = 'down') AS down,
           '[' || COALESCE(string_agg(to_json(f.comment)::text, ',')
                           FILTER (WHERE f.comment <> ''), '') || ']' AS comments,
           -- Each vote as PostgreSQL wrote it when it was stored (migration 0017).
           '[' || string_agg(f.export_vote, ',') || ']' AS votes,
           -- The votes' reason lists, counted in Python (exports.rows.reason_counts).
           string_agg(f.reasons::text, ',')
               FILTER (WHERE jsonb_typeof(f.reasons) = 'array' AND f.reasons <> '[]')
               AS reason_lists
    FROM (
        SELECT f.message_id, f.rating, f.reasons, f.comment, f.export_vote
        FROM m JOIN annotations_feedback f ON f.message_id = m.id
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
               a.corrected_answer, a.updated_at, a.export_tail
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
LEFT JOIN votes ON votes.message_id = m.id
LEFT JOIN label ON label.message_id = m.id
ORDER BY m.id
"""

# The texts of an answer's retrieved contexts (eval's retrieved_contexts), as
# exports.rows._contexts reads them: of the contexts that are objects, in order, a text
# that is no string as its JSON text and a missing one as "". Where every context is an
# object with a string text, as ingestion stores them, one jsonpath query takes them
# out (a strict check, which a list nested in the list fails: a lax one would look
# inside it), written as PostgreSQL writes a list, with a space after each comma
# (making it compact would need a check of every text for what reads as a separator,
# see _NOT_PLAIN_STRINGS, which cost more than the rest of this column). Raw rows copy
# the whole contexts as PostgreSQL wrote them when the message was stored.
_CONTEXT_TEXTS = """CASE
    WHEN jsonb_typeof(m.contexts) = 'array' AND NOT jsonb_path_exists(m.contexts,
         'strict $[*] ? (@.type() != "object" || (@.text.type() == "string") is unknown
                         || @.text.type() != "string")')
    THEN jsonb_path_query_array(m.contexts, 'strict $[*].text')::text
    ELSE (SELECT '[' || COALESCE(string_agg(to_json(COALESCE(e.value->>'text', ''))::text, ', '
                                            ORDER BY e.n), '') || ']'
          FROM jsonb_array_elements(
              CASE WHEN jsonb_typeof(m.contexts) = 'array' THEN m.contexts END
          ) WITH ORDINALITY AS e(value, n)
          WHERE jsonb_typeof(e.value) = 'object')
    END"""

# The last user turn before an answer (eval's user_input), from its history; raw rows,
# which do not need it, spare the aggregates.
_USER_INPUT = """,
           (array_agg(COALESCE(turn.content, '')) FILTER (WHERE turn.role = 'user'))[
               count(*) FILTER (WHERE turn.role = 'user')] AS user_input"""

# The feedback summary around its reasons, which Python counts (exports.rows.
# reason_counts) and writes between the two.
_FEEDBACK_HEAD = """'{"up":' || COALESCE(votes.up, 0) || ',"down":' || COALESCE(votes.down, 0)
    || ',"reasons":'"""
_FEEDBACK_TAIL = """',"comments":' || COALESCE(votes.comments, '[]') || '}'"""

# Per kind, (column, SQL expression, type) in the kind's column order (exports.rows),
# the expression None for the columns Python adds. Types: text, a number, a timestamp
# (ISO 8601 text), JSON text, and the feedback summary.
TEXT, NUMBER, TIMESTAMP, JSON, FEEDBACK = "text", "number", "timestamp", "json", "feedback"
# Columns both kinds share.
_CONVERSATION_ID = ("conversation_id", "c.external_id", TEXT)
_MESSAGE_ID = ("message_id", "m.external_id", TEXT)
_HISTORY = ("history", "COALESCE(history.messages, '[]')", JSON)
_FEEDBACK_SUMMARY = ("feedback", None, FEEDBACK)
_ANSWER = "COALESCE(m.content, '')"
_COLUMNS: dict[str, list[tuple[str, str | None, str]]] = {
    "raw": [
        _CONVERSATION_ID,
        _MESSAGE_ID,
        ("created_at", "m.created_at", TIMESTAMP),
        ("tags", "c.tags", JSON),
        ("end_user", "COALESCE(c.end_user, '')", TEXT),
        _HISTORY,
        ("answer", _ANSWER, TEXT),
        # Written by PostgreSQL as each message is stored (annotations migration 0016).
        ("contexts", "m.export_contexts", JSON),
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
        ("retrieved_contexts", "m.texts", JSON),
        ("reference", None, TEXT),
        ("labels", None, JSON),
        _FEEDBACK_SUMMARY,
    ],
}

KINDS = tuple(_COLUMNS)

# The pieces of a line besides the database's segments: the reasons of the feedback
# summary, and a run of the columns Python computes.
REASONS, COMPUTED = "reasons", "computed"


def _concat(pieces: list[str]) -> str:
    """SQL concatenating the pieces, as a balanced tree of `||`: a chain copies the
    text built so far at every step."""
    if len(pieces) == 1:
        return pieces[0]
    middle = len(pieces) // 2
    return f"({_concat(pieces[:middle])} || {_concat(pieces[middle:])})"


def _csv_quoted(value: str, *, json: bool = False) -> str:
    """SQL for a text as a CSV field (exports.writers.csv_field): quoted, its quotes
    doubled, when it holds a delimiter, a quote or a line break. JSON text holds no
    line break (JSON escapes them)."""
    checks = ["','", "'\"'"] + ([] if json else ["E'\\n'", "E'\\r'"])
    found = " + ".join(f"strpos({value}, {check})" for check in checks)
    return (
        f"""CASE WHEN {found} = 0 THEN {value} ELSE '"' || replace({value}, '"', '""') || '"' END"""
    )


def _json_piece(sql: str | None, type_: str) -> list[str]:
    # A NULL piece would make its whole segment NULL.
    if type_ in (TEXT, TIMESTAMP):
        return [f"COALESCE(to_json({sql})::text, 'null')"]
    if type_ == NUMBER:
        return [f"COALESCE(({sql})::text, 'null')"]
    if type_ == FEEDBACK:
        return [_FEEDBACK_HEAD, REASONS, _FEEDBACK_TAIL]
    return [sql]  # JSON text


def _csv_piece(sql: str | None, type_: str) -> list[str]:
    # A NULL piece would make its whole segment NULL: NULL is an empty field.
    if type_ == TEXT:
        return [_csv_quoted(f"COALESCE({sql}, '')")]
    if type_ == TIMESTAMP:
        # ISO 8601 holds no delimiter, quote or line break.
        return [f"COALESCE(btrim(to_json({sql})::text, '\"'), '')"]
    if type_ == NUMBER:
        return [f"COALESCE(({sql})::text, '')"]
    if type_ == FEEDBACK:
        # Always quoted (its keys are JSON strings): the quote opens before the head
        # and closes after the tail, and Python doubles the quotes of the reasons.
        return [
            f"""'"' || replace({_FEEDBACK_HEAD}, '"', '""')""",
            REASONS,
            f"""replace({_FEEDBACK_TAIL}, '"', '""') || '"'""",
        ]
    return [_csv_quoted(sql, json=True)]


def line_layout(kind: str, file_format: str) -> tuple[list[str], list[str | int]]:
    """(SQL of the line's segments, the line's plan).

    A line is the kind's columns in order: in JSON (JSON Lines, and the lines Arrow
    parses for Parquet) `{"column":value,...}`, in CSV the fields joined by commas.
    The database writes it in segments, each the text between two pieces Python adds:
    the feedback summary's reasons and the run of computed columns. The plan lists
    the line's pieces in order: a segment by its index among the segments, REASONS or
    COMPUTED. Every column but the first begins with its separator, so the pieces
    join as they are; Python ends the line.
    """
    csv = file_format == "csv"
    segments: list[list[str]] = []
    plan: list[str | int] = []
    current: list[str] = []

    def close() -> None:
        nonlocal current
        if current:
            plan.append(len(segments))
            segments.append(current)
            current = []

    for index, (name, sql, type_) in enumerate(_COLUMNS[kind]):
        separator = "" if index == 0 else ","
        if sql is None and type_ != FEEDBACK:
            close()
            if not plan or plan[-1] != COMPUTED:
                plan.append(COMPUTED)
            continue
        if csv:
            pieces = _csv_piece(sql, type_)
            if separator:
                current.append("','")
        else:
            pieces = _json_piece(sql, type_)
            current.append(f"""'{"{" if index == 0 else ","}"{name}":'""")
        for piece in pieces:
            if piece == REASONS:
                close()
                plan.append(REASONS)
            else:
                current.append(piece)
    close()
    # RowEncoder writes all computed columns at one place, after the first column.
    if plan.count(COMPUTED) > 1 or plan[0] == COMPUTED:
        raise ValueError(f"the computed columns of {kind} rows must follow one another")
    return [_concat(pieces) for pieces in segments], plan


def computed_columns(kind: str) -> list[tuple[str, str]]:
    """(name, type) of the columns Python computes, in column order."""
    return [
        (name, type_) for name, sql, type_ in _COLUMNS[kind] if sql is None and type_ != FEEDBACK
    ]


def page_sql(kind: str, file_format: str) -> str:
    """The statement that writes the lines of a page of answers, given their ids as
    its one parameter (an array literal), in id order: LEAD_COLUMNS, the
    conversation's external id (which places the row in a split), then the line's
    segments (see line_layout).

    The segments come as UTF-8 bytes (bytea; run the statement with binary results,
    which carry them as they are): they go into the file as they are, without being
    decoded into Python strings and encoded again.
    """
    segments, _ = line_layout(kind, file_format)
    # textsend: the text's bytes in the client encoding, which Django sets to UTF8 on
    # its connections (convert_to would check every byte of it again).
    selected = ",\n       ".join(["c.external_id", *(f"textsend({sql})" for sql in segments)])
    return _PAGE.format(
        compact_tags=_compact_list("c.tags"),
        history_message=_HISTORY_MESSAGE,
        contexts=f"{_CONTEXT_TEXTS} AS texts" if kind == "eval" else "m.export_contexts",
        user_input=_USER_INPUT if kind == "eval" else "",
        # Parquet holds the answers as JSON text (their types follow the rubric).
        annotation=_annotation(file_format == "parquet"),
        columns=selected,
    )


# Distinct values kept per cache of RowEncoder (label sets, reason lists): most answers
# of a project share a few.
CACHE_SIZE = 50_000


class RowEncoder:
    """Completes the lines a page statement wrote, for one file format.

    `encode(row)` takes a row of the statement (LEAD_COLUMNS, the conversation's
    external id, then the line's segments as UTF-8 bytes) and returns the line, in
    UTF-8: a JSON line for JSON Lines and Parquet (whose writer parses them with
    Arrow), a CSV record for CSV. It adds what needs Python: the counted reasons of
    the feedback summary and the columns that need the rubric (consensus, agreement,
    corrected answer, reference, labels).
    """

    def __init__(
        self, kind: str, file_format: str, questions_by_version: QuestionsByVersion
    ) -> None:
        self.kind = kind
        self.questions = (
            questions_by_version
            if isinstance(questions_by_version, RubricIndex)
            else RubricIndex(questions_by_version)
        )
        self.csv = file_format == "csv"
        # Parquet holds the rubric-shaped maps (consensus, labels) as JSON text.
        self.as_text = file_format == "parquet"
        _, layout = line_layout(kind, file_format)
        # The segments follow the lead columns and the conversation's external id.
        first = LEAD + 1
        self.plan = [piece + first if isinstance(piece, int) else piece for piece in layout]
        self.end = b"\r\n" if self.csv else b"}\n"
        computed = computed_columns(kind)
        # What goes before each computed value: its separator, and in JSON its key.
        self.computed_keys = [b"," if self.csv else f',"{name}":'.encode() for name, _ in computed]
        self.computed_maps = [type_ == JSON for _, type_ in computed]
        # The column a correction fills.
        self.correction_index = [name for name, _ in computed].index(
            "corrected_answer" if kind == "raw" else "reference"
        )
        self.consensus_cache: dict[str, tuple[dict[str, Any], float | None]] = {}
        # Most answers have no correction, and then their computed columns depend on
        # their labels only; most votes give a few usual reasons. Their text is kept.
        self.uncorrected_cache: dict[str, tuple[list[bytes], bytes]] = {}
        self.reasons_cache: dict[str, bytes] = {}

    def consensus(self, key: str) -> tuple[dict[str, Any], float | None]:
        """(consensus, agreement) of the human labels given as [[rubric version, answers]]."""
        found = self.consensus_cache.get(key)
        if found is None:
            labels = [
                {"source": HUMAN, "rubric_version": version, "answers": answers}
                for version, answers in orjson.loads(key)
            ]
            answered = answers_by_question(labels, self.questions)
            found = (consensus_of(answered), agreement_of(answered))
            _cache_put(self.consensus_cache, key, found)
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

    def _values(self, consensus_key: str) -> list:
        """The computed values of an answer with these labels and no correction, in
        the kind's column order."""
        consensus, agreement = self.consensus(consensus_key)
        if self.kind == "raw":
            return [consensus, agreement, None, ""]
        return ["", consensus]

    def _correction(self, corrections: str, answer: str | None) -> str:
        """The corrected answer (raw) or the reference (eval) from the answer's human
        corrections."""
        item = self._corrected_item(corrections, answer)
        if self.kind == "raw":
            return corrected_answer(item)
        return reference_answer(item, self.questions)

    def _pieces(self, values: list) -> list[bytes]:
        """Each computed column as a piece of the line: its separator, in JSON its key,
        and its value."""
        if self.csv:
            return [
                key + csv_field(value).encode()
                for key, value in zip(self.computed_keys, values, strict=True)
            ]
        return [
            key
            + orjson.dumps(
                orjson.dumps(value).decode()
                if is_map and self.as_text and value is not None
                else value
            )
            for key, value, is_map in zip(
                self.computed_keys, values, self.computed_maps, strict=True
            )
        ]

    def reasons(self, reason_lists: str | None) -> bytes:
        """The feedback summary's reasons, counted from the votes' reason lists (their
        JSON texts joined by commas), as a piece of the line."""
        if not reason_lists:
            return b"[]"
        found = self.reasons_cache.get(reason_lists)
        if found is None:
            counted = orjson.dumps(reason_counts(json_loads("[" + reason_lists + "]")))
            # Inside the summary's quoted CSV field.
            found = counted.replace(b'"', b'""') if self.csv else counted
            _cache_put(self.reasons_cache, reason_lists, found)
        return found

    def computed_text(
        self, consensus_key: str, corrections: str | None, answer: str | None
    ) -> bytes:
        """The computed columns as a piece of the line. What depends on the labels
        alone is kept per label set; only a correction is worked out per answer."""
        found = self.uncorrected_cache.get(consensus_key)
        if found is None:
            pieces = self._pieces(self._values(consensus_key))
            found = (pieces, b"".join(pieces))
            _cache_put(self.uncorrected_cache, consensus_key, found)
        if corrections and (correction := self._correction(corrections, answer)):
            pieces = list(found[0])
            index = self.correction_index
            pieces[index] = self.computed_keys[index] + (
                csv_field(correction).encode() if self.csv else orjson.dumps(correction)
            )
            return b"".join(pieces)
        return found[1]

    def encode(self, row: tuple) -> bytes:
        computed = self.computed_text(row[2], row[3], row[4])
        reasons = self.reasons(row[5])
        pieces = [
            row[piece] if piece.__class__ is int else computed if piece == COMPUTED else reasons
            for piece in self.plan
        ]
        pieces.append(self.end)
        return b"".join(pieces)


def _cache_put(cache: dict, key: str, value: Any) -> None:
    """Keep the value, emptying the cache first when it is full."""
    if len(cache) >= CACHE_SIZE:
        cache.clear()
    cache[key] = value
