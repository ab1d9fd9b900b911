"""The read side of exports: assistant answers with their history, votes and labels.

The answers are read in pages by keyset (`id > last id of the previous page`, in id
order), each page a short statement of its own: memory holds a few pages whatever the
size of the export, the database never builds the whole result ahead of the reader,
and other statements (a job's progress) can run between pages.

On PostgreSQL a page is one statement over the page's ids (export_pages): the
database builds each item as a JSON object (export_items), or writes the rows
themselves (raw and eval, exports.sql_rows). Outside a transaction the pages run over
connections of the export's own, several at once. Elsewhere a page brings its
conversations, their messages, its votes and its labels in one query each, by the
page's conversation ids (an index scan over a list of keys) or its id range (votes
and labels; pages are consecutive id ranges, so over the whole export each row is
read once): five queries a page, none per answer.
"""

import bisect
import collections
import contextlib
import queue
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import psycopg
import psycopg.sql
from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import BooleanField, Exists, F, Func, OuterRef, Q, QuerySet, TextField
from django.db.models.functions import Cast

from annotations.errors import NotFound
from annotations.models import (
    Annotation,
    Conversation,
    Feedback,
    Message,
    Project,
    QueueItem,
    Rubric,
)
from annotations.selectors import message_filter
from exports.models import ExportJob
from exports.rows import json_loads

PAGE_SIZE = 2000
# Pages of ids listed by one statement (export_pages).
LISTED_PAGES = 5
MESSAGE_FILTER_KEYS = ("since", "until", "model", "prompt_name", "prompt_version", "tags", "rating")

# JSON columns are read as text and parsed with orjson (exports.rows.json_loads),
# several times faster than the json.loads that JSONField applies to every value.
ANSWER_FIELDS = (
    "id",
    "conversation_id",
    "position",
    "external_id",
    "content",
    "contexts_json",
    "model",
    "prompt_name",
    "prompt_version",
    "latency_ms",
    "created",
)


def _rows_possible(kind: str | None) -> Q:
    """What an answer needs for the kind to have a row of it at all (exports.rows
    decides whether it has): a raw or eval row, feedback or a label; an SFT row, a
    human label (a correction, or the reviewers' ratings) or else an up vote; a
    preference pair, a human correction. Conditions the rows check again, so that an
    export lists, counts and reads no answer that cannot give a row."""
    human = Annotation.objects.filter(message=OuterRef("pk"), source=Annotation.Source.HUMAN)
    if kind == "sft":
        return Q(Exists(human)) | Q(
            Exists(Feedback.objects.filter(message=OuterRef("pk"), rating=Feedback.Rating.UP))
        )
    if kind == "preference":
        return Q(Exists(human.exclude(corrected_answer="")))
    return Q(Exists(Feedback.objects.filter(message=OuterRef("pk")))) | Q(
        Exists(Annotation.objects.filter(message=OuterRef("pk")))
    )


def export_messages(
    *, project: Project, filters: dict[str, Any], kind: str | None = None
) -> QuerySet[Message]:
    """Assistant answers of the project that can give the kind's rows (feedback or
    annotations; see _rows_possible) and match a clean export filter (see
    exports.options), in id order, without the limit."""
    messages = message_filter(
        project=project,
        filters={key: filters[key] for key in MESSAGE_FILTER_KEYS if key in filters},
    )
    messages = messages.filter(_rows_possible(kind))
    if filters.get("queue"):
        messages = messages.filter(
            Exists(QueueItem.objects.filter(queue_id=filters["queue"], message=OuterRef("pk")))
        )
    if filters.get("gold_only"):
        # Until adjudicated gold labels exist: labeled by at least one human.
        messages = messages.filter(
            Exists(
                Annotation.objects.filter(message=OuterRef("pk"), source=Annotation.Source.HUMAN)
            )
        )
    return messages.order_by("id")


def export_count(*, project: Project, filters: dict[str, Any], kind: str | None = None) -> int:
    """How many answers an export of the kind reads (the limit counts these)."""
    total = export_messages(project=project, filters=filters, kind=kind).count()
    limit = filters.get("limit")
    return min(total, limit) if limit else total


def project_calls_tools(*, project: Project) -> bool:
    """Whether any message of the project calls tools or answers a call: one probe of
    the partial index that holds only such messages."""
    return (
        Message.objects.filter(project=project)
        .filter(~Q(tool_calls=[]) | ~Q(tool_call_id=""))
        .exists()
    )


def rubric_questions(*, project: Project) -> dict[int, list[dict[str, Any]]]:
    """Every rubric version of the project: {version: questions}."""
    return dict(Rubric.objects.filter(project=project).values_list("version", "questions"))


class IsoTimestamp(Func):
    """A timestamp as ISO 8601 text, made by the database (parsing millions of them into
    datetimes only to format them again is a large share of an export's time)."""

    output_field = TextField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list]:
        # to_json formats timestamptz as ISO 8601 in the session time zone (UTC here).
        return self.as_sql(compiler, connection, template="(to_json(%(expressions)s) #>> '{}')")

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list]:
        # Stored as "YYYY-MM-DD HH:MM:SS[.ffffff]" in UTC.
        return self.as_sql(
            compiler, connection, template="(replace(%(expressions)s, ' ', 'T') || '+00:00')"
        )


class InList(Func):
    """`column IN (ids)`, given on PostgreSQL as `column = ANY(%s::bigint[])` with the ids
    as one array literal: thousands of placeholders (or array elements quoted one by
    one) cost more to build and parse than the query takes to run."""

    output_field = BooleanField()

    def __init__(self, column: str, values: Iterable[int]) -> None:
        super().__init__(F(column))
        self.values = [int(value) for value in values]

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list]:
        column, params = compiler.compile(self.source_expressions[0])
        if connection.vendor == "postgresql":
            array = "{" + ",".join(map(str, self.values)) + "}"
            return f"{column} = ANY(%s::bigint[])", [*params, array]
        placeholders = ", ".join(["%s"] * len(self.values))
        return f"{column} IN ({placeholders})", [*params, *self.values]


Statement = tuple[str, Any] | None


def _statement(queryset: QuerySet) -> Statement:
    """The SQL and parameters of a values_list query; None when it can match nothing."""
    try:
        return queryset.query.sql_with_params()
    except EmptyResultSet:
        return None


class _Reader:
    """Runs the export's statements and fetches their rows as plain tuples.

    The export's columns are text and integers that need no conversion, and Django's
    row iterator costs more per row than the database takes to send them.

    On PostgreSQL the statements run in background threads, submitted ahead, so that
    the next pages are read while the caller turns this one into rows. Outside a
    transaction they run over `settings.EXPORT_READ_CONNECTIONS` connections of the
    reader's own, one statement each at a time: the database works on several pages
    at once, each on a core, all on one snapshot (_share_snapshot). Inside a
    transaction (a caller's, or a test's) they run on the caller's own connection, one
    at a time, so that a page is read as the caller would read it; the caller may
    still use the connection meanwhile (a job writes its progress): psycopg
    connections are thread-safe and let one statement through at a time. Elsewhere
    the statements run when submitted.
    """

    def __init__(self) -> None:
        connection.ensure_connection()
        # This thread's wrapper (the `connection` proxy would resolve to the reader
        # thread's own).
        self.connection = connections[DEFAULT_DB_ALIAS]
        # Logged like Django's own statements (tests count them, DEBUG shows them).
        self.logged = connection.queries_logged
        self.own: list[BaseDatabaseWrapper] = []
        self.free: queue.SimpleQueue[BaseDatabaseWrapper] = queue.SimpleQueue()
        self.executor = None
        if connection.vendor != "postgresql":
            return
        # Other connections would not see what the caller's transaction wrote.
        if connection.get_autocommit() and not connection.in_atomic_block:
            try:
                for _ in range(max(0, settings.EXPORT_READ_CONNECTIONS)):
                    self.own.append(self._open())
                self._share_snapshot()
            except BaseException:
                self.close()
                raise
        if not self.own:
            self.free.put(self.connection)
        for wrapper in self.own:
            self.free.put(wrapper)
        self.executor = ThreadPoolExecutor(
            max_workers=max(1, len(self.own)), thread_name_prefix="export-reader"
        )

    @property
    def depth(self) -> int:
        """How many statements may be in hand at once."""
        return max(1, len(self.own))

    def _open(self) -> BaseDatabaseWrapper:
        """A connection of the reader's own, set up as Django sets up its own (time
        zone, role, options), with EXPORT_SETTINGS."""
        wrapper = connections.create_connection(DEFAULT_DB_ALIAS)
        # Used from the reader's threads, closed from this one.
        wrapper.inc_thread_sharing()
        wrapper.ensure_connection()
        with wrapper.cursor() as cursor:
            cursor.execute(f"SELECT {_SET}", list(EXPORT_SETTINGS.values()))
        return wrapper

    def _share_snapshot(self) -> None:
        """Every statement of the export on one snapshot of the database: each own
        connection in a read-only repeatable-read transaction, on the snapshot the
        first one exports. Otherwise each statement would see the data as it is when it
        runs: an answer listed before its last vote is deleted would be written without
        votes, and pages read after a relabeling would hold it while earlier ones did
        not."""
        snapshot = None
        for wrapper in self.own:
            raw = wrapper.connection
            raw.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            if snapshot is None:
                snapshot = raw.execute("SELECT pg_export_snapshot()").fetchone()[0]
            else:
                raw.execute(
                    psycopg.sql.SQL("SET TRANSACTION SNAPSHOT {}").format(
                        psycopg.sql.Literal(snapshot)
                    )
                )

    def submit(self, statement: Statement, *, binary: bool = False) -> Future:
        """Run the statement; with `binary`, its results come in PostgreSQL's binary
        format (bytea as bytes, without the text format's hex)."""
        if self.executor is not None:
            return self.executor.submit(self._run, statement, binary)
        future: Future = Future()
        try:
            future.set_result(self._run(statement, binary))
        except Exception as error:
            future.set_exception(error)
        return future

    def _run(self, statement: Statement, binary: bool = False) -> list[tuple]:
        if statement is None:
            return []
        sql, params = statement
        if self.executor is None:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall()
        wrapper = self.free.get()
        try:
            # The raw connection: Django's wrapper belongs to the caller's thread.
            started = time.monotonic()
            # Errors become Django's, as they would from its own cursors.
            raw = wrapper.connection
            # Django's cursors bind parameters on the client, which has no binary results.
            cursor = psycopg.Cursor(raw) if binary else raw.cursor()
            with wrapper.wrap_database_errors, cursor:
                cursor.execute(sql, params, binary=binary)
                rows = cursor.fetchall()
                if self.logged:
                    self.connection.queries_log.append(
                        {
                            "sql": wrapper.ops.last_executed_query(cursor, sql, params),
                            "time": f"{time.monotonic() - started:.3f}",
                        }
                    )
        finally:
            self.free.put(wrapper)
        return rows

    def close(self) -> None:
        """Wait for the statements in hand (if any), drop those not started, and close
        the reader's own connections."""
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
        for wrapper in self.own:
            # A pooled connection goes back to the pool as it was: out of the snapshot's
            # transaction, with the settings reset.
            with contextlib.suppress(Exception), wrapper.cursor() as cursor:
                cursor.execute("ROLLBACK")
                for name in EXPORT_SETTINGS:
                    cursor.execute(f"RESET {name}")
            with contextlib.suppress(Exception):
                wrapper.close()


def _json(text: str | None) -> Any:
    return json_loads(text) if text else None


def _json_list(text: str) -> Any:
    # Most lists in an export are empty: skip the parser for them.
    return [] if text == "[]" else json_loads(text) or []


def _conversations_statement(conversation_ids: Iterable[int]) -> Statement:
    return _statement(
        Conversation.objects.filter(InList("id", conversation_ids))
        .annotate(tags_json=Cast("tags", TextField()))
        .values_list("id", "external_id", "tags_json", "end_user")
    )


def _conversations(rows: list[tuple]) -> dict[int, tuple[str, list, str]]:
    """{conversation id: (external id, tags, end user)}."""
    return {
        conversation_id: (external_id, _json_list(tags), end_user)
        for conversation_id, external_id, tags, end_user in rows
    }


def _histories_statement(conversation_ids: Iterable[int]) -> Statement:
    return _statement(
        Message.objects.filter(InList("conversation_id", conversation_ids))
        .order_by("conversation_id", "position")
        .annotate(tool_calls_json=Cast("tool_calls", TextField()))
        .values_list(
            "conversation_id", "position", "role", "content", "tool_calls_json", "tool_call_id"
        )
    )


def _histories(rows: list[tuple]) -> dict[int, tuple[list[int], list[dict[str, Any]]]]:
    """{conversation id: (positions, messages)} of every message of the conversations,
    in position order; an answer's history is the prefix before its position."""
    histories: dict[int, tuple[list[int], list[dict[str, Any]]]] = {}
    current = None
    positions: list[int] = []
    messages: list[dict[str, Any]] = []
    for conversation_id, position, role, content, tool_calls, tool_call_id in rows:
        if conversation_id != current:
            current, positions, messages = conversation_id, [], []
            histories[conversation_id] = (positions, messages)
        positions.append(position)
        message: dict[str, Any] = {"role": role, "content": content}
        if tool_calls != "[]" or tool_call_id:
            message["tool_calls"] = _json_list(tool_calls)
            message["tool_call_id"] = tool_call_id
        messages.append(message)
    return histories


def _feedback_statement(project_id: int, first_id: int, last_id: int) -> Statement:
    """Votes on the answers with ids in the range (those not in the page go unused)."""
    return _statement(
        Feedback.objects.filter(
            project_id=project_id, message_id__gte=first_id, message_id__lte=last_id
        )
        .order_by("message_id", "created_at", "id")
        .annotate(reasons_json=Cast("reasons", TextField()), created=IsoTimestamp("created_at"))
        .values_list(
            "message_id", "end_user", "rating", "reasons_json", "comment", "source", "created"
        )
    )


def _by_message(pairs: Iterable[tuple[int, dict[str, Any]]]) -> dict[int, list[dict[str, Any]]]:
    """{message id: [values in the order given]}."""
    grouped: dict[int, list[dict[str, Any]]] = {}
    for message_id, value in pairs:
        if message_id in grouped:
            grouped[message_id].append(value)
        else:
            grouped[message_id] = [value]
    return grouped


def _feedback(rows: list[tuple]) -> dict[int, list[dict[str, Any]]]:
    return _by_message(
        (
            message_id,
            {
                "user": end_user,
                "rating": rating,
                "reasons": _json_list(reasons),
                "comment": comment,
                "source": source,
                "created_at": created_at,
            },
        )
        for message_id, end_user, rating, reasons, comment, source, created_at in rows
    )


def _annotations_statement(project_id: int, first_id: int, last_id: int) -> Statement:
    """Labels on the answers with ids in the range (those not in the page go unused)."""
    return _statement(
        Annotation.objects.filter(
            project_id=project_id, message_id__gte=first_id, message_id__lte=last_id
        )
        .order_by("message_id", "created_at", "id")
        .annotate(
            answers_json=Cast("answers", TextField()),
            created=IsoTimestamp("created_at"),
            updated=IsoTimestamp("updated_at"),
        )
        .values_list(
            "message_id",
            "annotator_name",
            "source",
            "rubric__version",
            "answers_json",
            "corrected_answer",
            "created",
            "updated",
        )
    )


def _annotations(rows: list[tuple]) -> dict[int, list[dict[str, Any]]]:
    return _by_message(
        (
            message_id,
            {
                "annotator": name,
                "source": source,
                "rubric_version": version,
                "answers": _json(answers) or {},
                "corrected_answer": corrected,
                "created_at": created_at,
                "updated_at": updated_at,
            },
        )
        for message_id, name, source, version, answers, corrected, created_at, updated_at in rows
    )


def export_items(
    *,
    project: Project,
    filters: dict[str, Any],
    page_size: int = PAGE_SIZE,
    kind: str | None = None,
) -> Iterator[list[dict[str, Any]]]:
    """Pages of export items (the plain dicts exports.rows builds rows from).

    A page is read with five statements: its answers (the next ones after the last
    id of the page before), then their conversations, the conversations' messages,
    and the votes and labels in the page's id range. The statements of the next page
    are submitted before this page is handed over, so that the database reads them
    while the caller turns this one into rows. On PostgreSQL the database builds each
    item itself, in one statement a page (see _items_postgresql); for an SFT or
    preference `kind` only with what those rows read.
    """
    if connection.vendor == "postgresql":
        sql = _TRAINING_ITEMS_SQL if kind in TRAINING_KINDS else None
        return _items_postgresql(
            project=project, filters=filters, page_size=page_size, sql=sql, kind=kind
        )
    return _items_portable(project=project, filters=filters, page_size=page_size, kind=kind)


def _items_portable(
    *, project: Project, filters: dict[str, Any], page_size: int, kind: str | None = None
) -> Iterator[list[dict[str, Any]]]:
    answers_query = (
        export_messages(project=project, filters=filters, kind=kind)
        .annotate(contexts_json=Cast("contexts", TextField()), created=IsoTimestamp("created_at"))
        .values_list(*ANSWER_FIELDS)
    )
    limit = filters.get("limit")

    def next_answers(after: int, read: int) -> tuple[Future | None, int]:
        """The next page's answers, submitted, and how many were asked for; (None, 0)
        when the limit is reached."""
        if limit and read >= limit:
            return None, 0
        size = min(page_size, limit - read) if limit else page_size
        return reader.submit(_statement(answers_query.filter(id__gt=after)[:size])), size

    def submit_after(
        answers: list[tuple], read: int, size: int
    ) -> tuple[list[Future], Future | None, int]:
        """Submit what follows a page of answers: their related rows, and the next page
        of answers unless this one was the last."""
        related = _submit_related(reader, project.pk, answers)
        if len(answers) < size:
            return related, None, 0
        return related, *next_answers(answers[-1][0], read)

    with _export_settings():
        reader = _Reader()
        try:
            following, size = next_answers(0, 0)
            answers = following.result() if following else []
            read = len(answers)
            if answers:
                related, following, size = submit_after(answers, read, size)
            while answers:
                page = _page(answers, *(future.result() for future in related))
                answers = following.result() if following else []
                if answers:
                    # The next page is read while the caller works on this one.
                    read += len(answers)
                    related, following, size = submit_after(answers, read, size)
                yield page
        finally:
            reader.close()


# A page of export items built by PostgreSQL, one JSON object per answer, with the keys
# and values _page builds elsewhere (timestamps as to_json writes them, like
# IsoTimestamp). Parsing one JSON text per answer costs a fraction of decoding the rows
# of five queries and regrouping them in Python. Its one parameter is the page's ids.
# (The aggregates read sorted subqueries, joined before the sort, instead of sorting
# inside the aggregate, which PostgreSQL does per answer at several times the cost of
# the rest.)
_HISTORY_JSON = """COALESCE((
        SELECT json_agg(CASE WHEN h.tool_calls = '[]' AND h.tool_call_id = ''
                             THEN json_build_object('role', h.role, 'content', h.content)
                             ELSE json_build_object('role', h.role, 'content', h.content,
                                                    'tool_calls', h.tool_calls,
                                                    'tool_call_id', h.tool_call_id) END)
        FROM (SELECT h.role, h.content, h.tool_calls, h.tool_call_id
              FROM annotations_message h
              WHERE h.conversation_id = m.conversation_id AND h.position < m.position
              ORDER BY h.position) h), '[]')"""
_ANNOTATIONS_JSON = """COALESCE((
        SELECT json_agg(json_build_object(
            'annotator', a.annotator_name, 'source', a.source, 'rubric_version', a.version,
            'answers', a.answers, 'corrected_answer', a.corrected_answer,
            'created_at', a.created_at, 'updated_at', a.updated_at))
        FROM (SELECT a.*, r.version FROM annotations_annotation a
              JOIN annotations_rubric r ON r.id = a.rubric_id
              WHERE a.message_id = m.id
              ORDER BY a.created_at, a.id) a), '[]')"""
_PAGE_OF_ANSWERS = """
FROM annotations_message m
JOIN annotations_conversation c ON c.id = m.conversation_id
WHERE m.id = ANY(%s::bigint[])
ORDER BY m.id
"""
_ITEMS_SQL = f"""
SELECT m.id, json_build_object(
    'conversation_id', c.external_id,
    'message_id', m.external_id,
    'created_at', m.created_at,
    'tags', c.tags,
    'end_user', c.end_user,
    'history', {_HISTORY_JSON},
    'answer', m.content,
    'contexts', m.contexts,
    'model', m.model,
    'prompt_name', m.prompt_name,
    'prompt_version', m.prompt_version,
    'latency_ms', m.latency_ms,
    'feedback', COALESCE((
        SELECT json_agg(json_build_object(
            'user', f.end_user, 'rating', f.rating, 'reasons', f.reasons,
            'comment', f.comment, 'source', f.source, 'created_at', f.created_at))
        FROM (SELECT f.* FROM annotations_feedback f WHERE f.message_id = m.id
              ORDER BY f.created_at, f.id) f), '[]'),
    'annotations', {_ANNOTATIONS_JSON}
)::text{_PAGE_OF_ANSWERS}"""  # noqa: S608 - fragments of this module
# SFT and preference rows are the chat before the answer, the answer and a correction
# of it, chosen by the labels and the votes' ratings: their items leave out the rest
# (contexts, the votes' reasons and comments, tags, the model and prompt), which took
# a quarter of the database's time and half the JSON text.
_TRAINING_ITEMS_SQL = f"""
SELECT m.id, json_build_object(
    'conversation_id', c.external_id,
    'message_id', m.external_id,
    'history', {_HISTORY_JSON},
    'answer', m.content,
    'feedback', COALESCE((
        SELECT json_agg(json_build_object('rating', f.rating))
        FROM annotations_feedback f WHERE f.message_id = m.id), '[]'),
    'annotations', {_ANNOTATIONS_JSON}
)::text{_PAGE_OF_ANSWERS}"""  # noqa: S608 - fragments of this module
# The kinds whose rows need only what _TRAINING_ITEMS_SQL reads (exports.rows).
TRAINING_KINDS = ("sft", "preference")


def export_pages(
    *,
    project: Project,
    filters: dict[str, Any],
    sql: str,
    binary: bool = False,
    page_size: int | None = None,
    kind: str | None = None,
) -> Iterator[list[tuple]]:
    """The rows of a PostgreSQL statement run on each page of the export's answers
    (its one parameter: the page's ids, as an array), page by page in id order; the
    answers that can give rows of the kind (see _rows_possible).

    The reader lists the ids LISTED_PAGES pages at a time (keyset: each listing a
    short statement of its own, the limit honoured) and runs the statement on each
    page, several at once where it has connections of its own. The next ids are asked
    for as soon as these arrive, ahead of their pages' rows. Pages are handed over in
    order; as many as the reader has connections are read ahead of the one handed
    over.
    """
    page_size = page_size or PAGE_SIZE
    # Ids are listed several pages at a time: Django compiles the listing query anew
    # each time, which took longer than the database took to run it.
    list_size = page_size * LISTED_PAGES
    ids = export_messages(project=project, filters=filters, kind=kind).values_list("id")
    limit = filters.get("limit")

    def next_ids(after: int, read: int) -> tuple[Future | None, int]:
        """The ids after `after`, submitted, and how many were asked for."""
        if limit and read >= limit:
            return None, 0
        size = min(list_size, limit - read) if limit else list_size
        statement = _statement(ids.filter(id__gt=after)[:size])
        return (reader.submit(statement) if statement else None), size

    with _export_settings():
        reader = _Reader()
        try:
            in_hand: collections.deque[Future] = collections.deque()
            listing, size = next_ids(0, 0)
            read = 0
            while listing is not None:
                listed = [row[0] for row in listing.result()]
                if not listed:
                    break
                read += len(listed)
                listing, size = next_ids(listed[-1], read) if len(listed) == size else (None, 0)
                for start in range(0, len(listed), page_size):
                    page = listed[start : start + page_size]
                    statement = (sql, ["{" + ",".join(map(str, page)) + "}"])
                    in_hand.append(reader.submit(statement, binary=binary))
                    if len(in_hand) > reader.depth:
                        yield in_hand.popleft().result()
            while in_hand:
                yield in_hand.popleft().result()
        finally:
            reader.close()


def _items_postgresql(
    *,
    project: Project,
    filters: dict[str, Any],
    page_size: int,
    sql: str | None = None,
    kind: str | None = None,
) -> Iterator[list[dict[str, Any]]]:
    """Pages of items built by `sql` (whole items by default)."""
    pages = export_pages(
        project=project, filters=filters, sql=sql or _ITEMS_SQL, page_size=page_size, kind=kind
    )
    for rows in pages:
        yield [json_loads(text) for _, text in rows]


def _submit_related(reader: _Reader, project_id: int, answers: list[tuple]) -> list[Future]:
    first_id, last_id = answers[0][0], answers[-1][0]
    conversation_ids = {answer[1] for answer in answers}
    return [
        reader.submit(_conversations_statement(conversation_ids)),
        reader.submit(_histories_statement(conversation_ids)),
        reader.submit(_feedback_statement(project_id, first_id, last_id)),
        reader.submit(_annotations_statement(project_id, first_id, last_id)),
    ]


# Planner settings for the export's statements, on every connection it reads over.
# JIT off: the planner prices the answers query by the whole table behind the EXISTS
# filters and compiles it on every page, which takes longer than reading the page.
# Hash aggregation off: the planner cannot know which subqueries come sorted by answer,
# and hashes (and spills to disk) what a group aggregate reads straight through.
# Custom plans: the page statements run prepared (psycopg prepares a statement run
# five times), and the generic plan of a page, made without knowing how many ids it
# holds, ran four times slower.
EXPORT_SETTINGS = {"jit": "off", "enable_hashagg": "off", "plan_cache_mode": "force_custom_plan"}
_SET = ", ".join(f"set_config('{name}', %s, false)" for name in EXPORT_SETTINGS)


@contextlib.contextmanager
def _export_settings() -> Iterator[None]:
    """EXPORT_SETTINGS on the caller's connection, as they were afterwards."""
    if connection.vendor != "postgresql":
        yield
        return
    names = ", ".join(f"current_setting('{name}')" for name in EXPORT_SETTINGS)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {names}")
        previous = list(cursor.fetchone())
        cursor.execute(f"SELECT {_SET}", list(EXPORT_SETTINGS.values()))
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {_SET}", previous)


def _page(
    answers: list[tuple],
    conversation_rows: list[tuple],
    message_rows: list[tuple],
    vote_rows: list[tuple],
    label_rows: list[tuple],
) -> list[dict[str, Any]]:
    conversations = _conversations(conversation_rows)
    histories = _histories(message_rows)
    votes = _feedback(vote_rows)
    labels = _annotations(label_rows)
    no_history: tuple[list[int], list[dict[str, str]]] = ([], [])
    page = []
    for (
        message_id,
        conversation_id,
        position,
        external_id,
        content,
        contexts,
        model,
        prompt_name,
        prompt_version,
        latency_ms,
        created_at,
    ) in answers:
        conversation_external_id, tags, end_user = conversations[conversation_id]
        positions, messages = histories.get(conversation_id, no_history)
        page.append(
            {
                "conversation_id": conversation_external_id,
                "message_id": external_id,
                "created_at": created_at,
                "tags": tags,
                "end_user": end_user,
                "history": messages[: bisect.bisect_left(positions, position)],
                "answer": content,
                "contexts": _json_list(contexts),
                "model": model,
                "prompt_name": prompt_name,
                "prompt_version": prompt_version,
                "latency_ms": latency_ms,
                "feedback": votes.get(message_id, []),
                "annotations": labels.get(message_id, []),
            }
        )
    return page


def export_job_list(
    *, project: Project, limit: int = 50, status: str | None = None
) -> list[ExportJob]:
    """The project's latest export jobs (in this status), newest first."""
    jobs = ExportJob.objects.filter(project=project)
    if status is not None:
        jobs = jobs.filter(status=status)
    return list(
        jobs.select_related("created_by", "created_by_key").order_by("-created_at", "-id")[:limit]
    )


def export_job_get(*, project: Project, job_id: int) -> ExportJob:
    """A job of the project; NotFound for other projects' jobs as for unknown ids."""
    job = ExportJob.objects.select_related("project").filter(project=project, pk=job_id).first()
    if job is None:
        raise NotFound(f"No export {job_id} in this project.")
    return job
