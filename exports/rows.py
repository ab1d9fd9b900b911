"""Rows of the four export kinds, built from plain dicts: pure functions, no ORM.

The read side hands over one *item* per assistant answer:

    {"conversation_id": "conv-1", "message_id": "m2", "created_at": "2026-11-25T10:00:00+00:00",
     "tags": ["beta"], "end_user": "u-42",
     "history": [{"role": "system" | "user" | "assistant" | "tool", "content": "...",
                  "tool_calls": [...] (assistant, when it called tools),
                  "tool_call_id": "..." (tool, the call it answers)}, ...],
     "answer": "...", "contexts": [{"id", "title", "url", "text", "score"}, ...],
     "model": "...", "prompt_name": "...", "prompt_version": "...", "latency_ms": 1234,
     "feedback": [{"user", "rating", "reasons", "comment", "source", "created_at"}, ...],
     "annotations": [{"annotator", "source", "rubric_version", "answers", "corrected_answer",
                      "created_at", "updated_at"}, ...]}

and the project's rubric questions by version. Each builder returns a row (a dict
with the kind's columns, in order) or None when the item yields no row of that kind.
"""

import json
import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from exports.redaction import redact_pii, redact_pii_json

# 2: SFT messages carry OpenAI's "weight"; a preference row per correction.
# 3: chat messages carry "tool_calls" (assistant) and "tool_call_id" (tool) where set;
#    the message structs have these fields only in exports of projects that log tool
#    calls (chat templates test `"tool_calls" in message` and choke on a null there).
SCHEMA_VERSION = 3

KINDS = ("raw", "eval", "sft", "preference")
PREFERENCE_FORMATS = ("trl", "openai")
DEFAULT_SFT_MIN_RATING = 4.0
HUMAN = "human"
CHOICE_TYPES = ("boolean", "single_choice", "pairwise")

Item = dict[str, Any]
Row = dict[str, Any]
QuestionsByVersion = dict[int, list[dict[str, Any]]]

RAW_COLUMNS = (
    "conversation_id",
    "message_id",
    "created_at",
    "tags",
    "end_user",
    "history",
    "answer",
    "contexts",
    "model",
    "prompt_name",
    "prompt_version",
    "latency_ms",
    "feedback",
    "votes",
    "annotations",
    "consensus",
    "agreement",
    "gold_label",
    "corrected_answer",
)
EVAL_COLUMNS = (
    "conversation_id",
    "message_id",
    "user_input",
    "history",
    "response",
    "retrieved_contexts",
    "reference",
    "labels",
    "feedback",
)
SFT_COLUMNS = ("messages",)
PREFERENCE_COLUMNS = ("prompt", "chosen", "rejected")
OPENAI_PREFERENCE_COLUMNS = ("input", "preferred_output", "non_preferred_output")


@dataclass(frozen=True)
class RowOptions:
    """What shapes the rows beyond the kind."""

    preference_format: str = "trl"
    sft_min_rating: float = DEFAULT_SFT_MIN_RATING


def columns_for(kind: str, options: RowOptions) -> tuple[str, ...]:
    if kind == "raw":
        return RAW_COLUMNS
    if kind == "eval":
        return EVAL_COLUMNS
    if kind == "sft":
        return SFT_COLUMNS
    if options.preference_format == "openai":
        return OPENAI_PREFERENCE_COLUMNS
    return PREFERENCE_COLUMNS


class RubricIndex(dict):
    """Questions by rubric version, with each version's questions indexed by key once
    (an export builds rows for millions of items from the same few rubrics)."""

    def __init__(self, questions_by_version: QuestionsByVersion) -> None:
        super().__init__(questions_by_version)
        self.types = _index_questions(questions_by_version)


def _index_questions(questions_by_version: QuestionsByVersion) -> dict[int, dict[str, dict]]:
    return {
        version: {question["key"]: question for question in questions}
        for version, questions in questions_by_version.items()
    }


def _question_types(questions_by_version: QuestionsByVersion) -> dict[int, dict[str, dict]]:
    types = getattr(questions_by_version, "types", None)
    return types if types is not None else _index_questions(questions_by_version)


def _human(annotations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [annotation for annotation in annotations if annotation.get("source") == HUMAN]


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(sorted(str(item) for item in value))
    return value


def answers_by_question(
    annotations: list[dict[str, Any]], questions_by_version: QuestionsByVersion
) -> dict[str, tuple[str, list[Any]]]:
    """{question key: (type, [answers])} over the given annotations, in rubric order.

    A multiple-choice question counts every annotation whose rubric has it: an empty
    selection ("none of these") is not stored, so a missing answer there is [].
    """
    types = _question_types(questions_by_version)
    collected: dict[str, tuple[str, list[Any]]] = {}
    for annotation in annotations:
        questions = types.get(annotation.get("rubric_version"), {})
        answers = annotation.get("answers") or {}
        for key, question in questions.items():
            kind = question["type"]
            value = answers.get(key)
            if kind == "multi_choice" and value in (None, ""):
                value = []
            elif value is None or value == "" or value == []:
                continue
            if key in collected and collected[key][0] != kind:
                # The key changed type between rubric versions; keep the first meaning.
                continue
            collected.setdefault(key, (kind, []))[1].append(value)
    return collected


def _majority(values: list[Any]) -> Any:
    """The most frequent value; None on a tie for first place."""
    counts = Counter(_hashable(value) for value in values).most_common()
    if len(counts) > 1 and counts[0][1] == counts[1][1]:
        return None
    return counts[0][0]


def consensus(
    annotations: list[dict[str, Any]], questions_by_version: QuestionsByVersion
) -> dict[str, Any]:
    """The human annotators' consensus per question.

    Ratings: the mean. Yes/no, single choice and pairwise: the majority answer (None on
    a tie). Multiple choice: the options chosen by more than half of the annotators whose
    rubric has the question, an empty selection included. Free text and corrected
    answers have no consensus and are left out.
    """
    return consensus_of(answers_by_question(_human(annotations), questions_by_version))


def consensus_of(answered: dict[str, tuple[str, list[Any]]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, (kind, values) in answered.items():
        if kind == "rating":
            numbers = [value for value in values if isinstance(value, int | float)]
            if numbers:
                result[key] = round(sum(numbers) / len(numbers), 4)
        elif kind in CHOICE_TYPES:
            result[key] = values[0] if len(values) == 1 else _majority(values)
        elif kind == "multi_choice":
            counts = Counter(option for value in values for option in set(value))
            result[key] = sorted(option for option, n in counts.items() if n * 2 > len(values))
    return result


def agreement(
    annotations: list[dict[str, Any]], questions_by_version: QuestionsByVersion
) -> float | None:
    """The share of human annotators giving the most common answer, averaged over the
    questions that at least two of them answered; None when no question was."""
    return agreement_of(answers_by_question(_human(annotations), questions_by_version))


def agreement_of(answered: dict[str, tuple[str, list[Any]]]) -> float | None:
    shares = []
    for kind, values in answered.values():
        if kind in ("text", "corrected_answer") or len(values) < 2:
            continue
        top = Counter(_hashable(value) for value in values).most_common(1)[0][1]
        shares.append(top / len(values))
    if not shares:
        return None
    return round(sum(shares) / len(shares), 4)


def corrected_answer(item: Item) -> str:
    """The latest human correction that differs from the answer, else ""."""
    original = (item.get("answer") or "").strip()
    latest = ""
    latest_at = ""
    for annotation in _human(item.get("annotations") or []):
        text = (annotation.get("corrected_answer") or "").strip()
        stamp = str(annotation.get("updated_at") or "")
        if text and text != original and stamp >= latest_at:
            latest, latest_at = annotation["corrected_answer"], stamp
    return latest


def json_loads(text: str) -> Any:
    """JSON text read from the database. orjson refuses numbers beyond a float's range
    and integers beyond 64 bits, which jsonb holds (only SQL can store them): those
    are read by the standard library, as integers and infinities."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def string_list(value: Any) -> list[str]:
    """A list of strings (tags, a vote's reasons): an item that is no string (only SQL
    can store one now; the admin refuses them) as its JSON text, a value that is no
    list as []."""
    if not isinstance(value, list):
        return []
    return [item if isinstance(item, str) else _json_text(item) for item in value]


def _json_text(value: Any) -> str:
    """A value as PostgreSQL writes a jsonb's text (a space after each comma and colon),
    as the database builder writes what is no string where text belongs."""
    return json.dumps(value, ensure_ascii=False)


def reason_counts(reason_lists: Iterable[Any]) -> list[dict[str, Any]]:
    """How often each reason was given over the votes' reason lists, the most often
    given first (ties by the reason's text). Votes take reasons as lists of strings;
    anything else stored there (through the admin) counts by its JSON text, and a
    value that is not a list gives no reason."""
    counts: dict[str, int] = {}
    for reasons in reason_lists:
        if not isinstance(reasons, list):
            continue
        for reason in reasons:
            key = reason if isinstance(reason, str) else _json_text(reason)
            counts[key] = counts.get(key, 0) + 1
    return [
        {"reason": reason, "count": count}
        for reason, count in sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
    ]


def feedback_summary(feedback: list[dict[str, Any]]) -> dict[str, Any]:
    """Vote counts, reasons by count, and the comments left with the votes."""
    up = down = 0
    comments = []
    for vote in feedback:
        rating = vote.get("rating")
        if rating == "up":
            up += 1
        elif rating == "down":
            down += 1
        if vote.get("comment"):
            comments.append(vote["comment"])
    return {
        "up": up,
        "down": down,
        "reasons": reason_counts(vote.get("reasons") for vote in feedback),
        "comments": comments,
    }


@dataclass(frozen=True)
class Correction:
    """One reviewer's corrected answer and that reviewer's own pairwise verdict on it."""

    text: str
    # "a" (the original is better), "b" (the correction is), "tie", or None (not asked).
    verdict: str | None


def _own_verdict(
    annotation: dict[str, Any], questions_by_version: QuestionsByVersion
) -> str | None:
    """The annotation's answer to the first pairwise question of its rubric that it
    answered. A pairwise question compares the answer (A) with the annotator's own
    corrected answer (B), never with someone else's."""
    questions = _question_types(questions_by_version).get(annotation.get("rubric_version"), {})
    answers = annotation.get("answers") or {}
    for key, question in questions.items():
        if question["type"] == "pairwise" and answers.get(key):
            return answers[key]
    return None


def corrections(item: Item, questions_by_version: QuestionsByVersion) -> list[Correction]:
    """The human corrections that differ from the answer, each with its author's own
    pairwise verdict, the least recently updated first."""
    original = (item.get("answer") or "").strip()
    written = [
        annotation
        for annotation in _human(item.get("annotations") or [])
        if (annotation.get("corrected_answer") or "").strip() not in ("", original)
    ]
    # Stable: annotations updated at the same time keep their order.
    written.sort(key=lambda annotation: str(annotation.get("updated_at") or ""))
    return [
        Correction(
            text=annotation["corrected_answer"],
            verdict=_own_verdict(annotation, questions_by_version),
        )
        for annotation in written
    ]


# --sft-min-rating is given on a 1-5 scale and moved onto each rating question's own
# scale: 4 of 5 is 7.75 on a 1-10 question and 2.5 on a 1-3 one.
REFERENCE_SCALE = (1, 5)


def rating_bar(question: dict[str, Any], min_rating: float) -> float:
    """The lowest rating on this question's scale that counts as good."""
    scale = question.get("scale") or {}
    low, high = scale.get("min", REFERENCE_SCALE[0]), scale.get("max", REFERENCE_SCALE[1])
    ref_low, ref_high = REFERENCE_SCALE
    return low + (min_rating - ref_low) * (high - low) / (ref_high - ref_low)


def is_error_question(key: str, question: dict[str, Any]) -> bool:
    """A multiple-choice list of errors (the RAG rubric's `errors`): any option chosen
    there marks the answer as bad."""
    return question["type"] == "multi_choice" and "error" in key


def _negative_label(
    annotations: list[dict[str, Any]], questions_by_version: QuestionsByVersion, min_rating: float
) -> bool:
    """Whether any label marks the answer as bad: an error chosen by anyone, or a rating
    below the bar from a model judge (human ratings count by their mean)."""
    types = _question_types(questions_by_version)
    for annotation in annotations:
        questions = types.get(annotation.get("rubric_version"), {})
        human = annotation.get("source") == HUMAN
        for key, value in (annotation.get("answers") or {}).items():
            question = questions.get(key)
            if question is None or value is None:
                continue
            if is_error_question(key, question) and value:
                return True
            if (
                not human
                and question["type"] == "rating"
                and isinstance(value, int | float)
                and value < rating_bar(question, min_rating)
            ):
                return True
    return False


def _human_ratings_good(
    annotations: list[dict[str, Any]], questions_by_version: QuestionsByVersion, min_rating: float
) -> bool | None:
    """Whether the reviewers' mean reaches the bar on every rating question they
    answered; None when they answered none."""
    types = _question_types(questions_by_version)
    ratings: dict[str, tuple[dict[str, Any], list[float]]] = {}
    for annotation in _human(annotations):
        questions = types.get(annotation.get("rubric_version"), {})
        for key, value in (annotation.get("answers") or {}).items():
            question = questions.get(key)
            if question is None or question["type"] != "rating":
                continue
            if not isinstance(value, int | float) or isinstance(value, bool):
                continue
            ratings.setdefault(key, (question, []))[1].append(value)
    if not ratings:
        return None
    return all(
        sum(values) / len(values) >= rating_bar(question, min_rating)
        for question, values in ratings.values()
    )


def reference_answer(item: Item, questions_by_version: QuestionsByVersion) -> str:
    """The eval row's reference: the latest correction whose author did not rank it below
    the original in the pairwise question, else "". A correction its own author judged
    worse than the answer is no ground truth."""
    preferred = [
        correction.text
        for correction in corrections(item, questions_by_version)
        if correction.verdict != "a"
    ]
    return preferred[-1] if preferred else ""


def approved_answer(
    item: Item, questions_by_version: QuestionsByVersion, min_rating: float
) -> str | None:
    """The assistant text an SFT row may end with, or None.

    The latest corrected answer whose author did not rank it below the original (a
    pairwise answer of "a"). Else the original answer, if no label marks it as bad (an
    error chosen by anyone, a model judge's rating below the bar) and either the
    reviewers' mean reaches the bar (`min_rating` on a 1-5 scale, moved onto each
    question's scale) on every rating question, or, with no reviewer ratings, end users
    voted it up and nobody down. An answer rated bad never passes: when it fails, the
    latest correction is taken even though its author ranked it below the original.
    """
    preferred = reference_answer(item, questions_by_version)
    if preferred:
        return preferred
    written = corrections(item, questions_by_version)
    corrected = written[-1].text if written else ""
    annotations = item.get("annotations") or []
    if _negative_label(annotations, questions_by_version, min_rating):
        return corrected or None
    rated_good = _human_ratings_good(annotations, questions_by_version, min_rating)
    if rated_good is None:
        votes = item.get("feedback") or []
        ups = sum(1 for vote in votes if vote.get("rating") == "up")
        downs = sum(1 for vote in votes if vote.get("rating") == "down")
        rated_good = bool(ups and not downs)
    if rated_good:
        return item["answer"]
    return corrected or None


def preference_pairs(item: Item, questions_by_version: QuestionsByVersion) -> list[tuple[str, str]]:
    """(chosen, rejected) for each distinct human correction, paired with the answer.

    Each reviewer's pairwise answer compares A (the answer) with B (that reviewer's own
    correction): "a" prefers the original, "tie" yields no pair, "b" or no pairwise
    answer the correction. Reviewers who wrote the same text count as one pair, ordered
    by the majority of their verdicts (no pair on a tie).
    """
    verdicts: dict[str, tuple[str, list[str]]] = {}
    for correction in corrections(item, questions_by_version):
        entry = verdicts.setdefault(correction.text.strip(), (correction.text, []))
        entry[1].append(correction.verdict or "b")
    pairs = []
    for text, given in verdicts.values():
        verdict = _majority(given)
        if verdict == "b":
            pairs.append((text, item["answer"]))
        elif verdict == "a":
            pairs.append((item["answer"], text))
    return pairs


def last_user_turn(history: list[dict[str, Any]]) -> str:
    for message in reversed(history):
        if message.get("role") == "user":
            return message.get("content") or ""
    return ""


def history_message(message: dict[str, Any]) -> dict[str, Any]:
    """A message of a raw or eval row's history: role and content, plus the tool calls
    of an assistant message and the call a tool message answers, only where they are
    (as OpenAI's chat format writes them)."""
    entry: dict[str, Any] = {"role": message["role"], "content": message.get("content") or ""}
    if message.get("tool_calls"):
        entry["tool_calls"] = message["tool_calls"]
    if message.get("tool_call_id"):
        entry["tool_call_id"] = message["tool_call_id"]
    return entry


def _chat(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The history as a chat that fine-tuning APIs accept: an assistant message keeps
    its tool calls when the tool messages right after it answer every one of them, and
    those results follow it. Other tool messages (a call not logged, a result logged
    out of place) are left out, with the calls they leave unanswered; an assistant
    message left with nothing to say goes too."""
    chat: list[dict[str, Any]] = []
    index = 0
    while index < len(history):
        message = history[index]
        index += 1
        role = message.get("role")
        if role not in ("system", "user", "assistant"):
            continue
        entry: dict[str, Any] = {"role": role, "content": message.get("content") or ""}
        calls = message.get("tool_calls") if role == "assistant" else None
        results = []
        if calls:
            # The tool messages that directly follow, belonging to this message.
            while index < len(history) and history[index].get("role") == "tool":
                results.append(history[index])
                index += 1
            call_ids = {call.get("id") for call in calls}
            # The first result for each call, in the order logged.
            firsts: dict[str, dict[str, Any]] = {}
            for result in results:
                if result.get("tool_call_id") in call_ids:
                    firsts.setdefault(result["tool_call_id"], result)
            answered = call_ids <= firsts.keys()
            if answered:
                entry["tool_calls"] = calls
            results = list(firsts.values()) if answered else []
        if entry["content"] or "tool_calls" in entry or role != "assistant":
            chat.append(entry)
            chat.extend(
                {
                    "role": "tool",
                    "tool_call_id": result["tool_call_id"],
                    "content": result.get("content") or "",
                }
                for result in results
            )
    return chat


# OpenAI's chat fine-tuning trains on every assistant message unless its "weight" is 0.
NOT_TRAINED = 0
TRAINED = 1


def _training_chat(history: list[dict[str, Any]], answer: str) -> list[dict[str, Any]]:
    """The chat of an SFT row: the history, then the approved answer as the one message
    trained on. Earlier assistant turns are context only (weight 0): they were never
    approved, and may be answers that reviewers rated bad."""
    return [
        {**message, "weight": NOT_TRAINED} if message["role"] == "assistant" else message
        for message in _chat(history)
    ] + [{"role": "assistant", "content": answer, "weight": TRAINED}]


# What _contexts writes, and a raw row's votes and the end of its labels, PostgreSQL
# also writes as rows are stored (annotations migrations 0016 and 0017), for the raw
# pages of exports.sql_rows: a change here needs a migration that changes those too
# (tests/exports/test_sql_rows.py compares the two).
def _contexts(contexts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for context in contexts or []:
        if not isinstance(context, dict):
            continue
        rows.append(
            {
                "id": _text_or_none(context.get("id")),
                "title": _text_or_none(context.get("title")),
                "url": _text_or_none(context.get("url")),
                "text": _text_or_none(context.get("text")) or "",
                "score": _score(context.get("score")),
            }
        )
    return rows


def _score(value: Any) -> float | None:
    """A context's score as a float: None if it is no number or one beyond a float's
    range (only SQL can store such a number), as annotations migration 0016 writes it."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _text_or_none(value: Any) -> str | None:
    """A context's text field: a string as it is, no value as None, anything else (a
    number, an object) as its JSON text, as PostgreSQL's `->>` gives it."""
    if value is None or isinstance(value, str):
        return value
    return _json_text(value)


def raw_row(item: Item, questions_by_version: QuestionsByVersion, options: RowOptions) -> Row:
    annotations = item.get("annotations") or []
    answered = answers_by_question(_human(annotations), questions_by_version)
    return {
        "conversation_id": item["conversation_id"],
        "message_id": item["message_id"],
        "created_at": item.get("created_at"),
        "tags": string_list(item.get("tags")),
        "end_user": item.get("end_user") or "",
        "history": [history_message(message) for message in item.get("history") or []],
        "answer": item.get("answer") or "",
        "contexts": _contexts(item.get("contexts") or []),
        "model": item.get("model") or "",
        "prompt_name": item.get("prompt_name") or "",
        "prompt_version": item.get("prompt_version") or "",
        "latency_ms": item.get("latency_ms"),
        "feedback": feedback_summary(item.get("feedback") or []),
        "votes": [
            {
                "user": vote.get("user") or "",
                "rating": vote.get("rating") or "",
                "reasons": string_list(vote.get("reasons")),
                "comment": vote.get("comment") or "",
                "source": vote.get("source") or "",
                "created_at": vote.get("created_at"),
            }
            for vote in item.get("feedback") or []
        ],
        "annotations": [
            {
                "annotator": annotation.get("annotator") or "",
                "source": annotation.get("source") or "",
                "rubric_version": annotation.get("rubric_version"),
                "answers": annotation.get("answers") or {},
                "corrected_answer": annotation.get("corrected_answer") or "",
                "created_at": annotation.get("created_at"),
                "updated_at": annotation.get("updated_at"),
            }
            for annotation in annotations
        ],
        "consensus": consensus_of(answered),
        "agreement": agreement_of(answered),
        # Adjudicated gold labels do not exist yet; the column keeps the schema stable.
        "gold_label": None,
        "corrected_answer": corrected_answer(item),
    }


def eval_row(item: Item, questions_by_version: QuestionsByVersion, options: RowOptions) -> Row:
    history = item.get("history") or []
    return {
        "conversation_id": item["conversation_id"],
        "message_id": item["message_id"],
        "user_input": last_user_turn(history),
        "history": [history_message(message) for message in history],
        "response": item.get("answer") or "",
        "retrieved_contexts": [context["text"] for context in _contexts(item.get("contexts"))],
        "reference": reference_answer(item, questions_by_version),
        "labels": consensus(item.get("annotations") or [], questions_by_version),
        "feedback": feedback_summary(item.get("feedback") or []),
    }


def sft_row(
    item: Item, questions_by_version: QuestionsByVersion, options: RowOptions
) -> Row | None:
    """{"messages": [...]} in OpenAI's chat fine-tuning format, ending with the approved
    answer, or None when there is none. Assistant messages carry a "weight": 1 on the
    final one, the training target, and 0 on earlier turns, which are only context
    (fine-tuning would otherwise learn them too, bad answers included); system and
    user messages have none."""
    answer = approved_answer(item, questions_by_version, options.sft_min_rating)
    if answer is None:
        return None
    return {"messages": _training_chat(item.get("history") or [], answer)}


def preference_rows(
    item: Item, questions_by_version: QuestionsByVersion, options: RowOptions
) -> list[Row]:
    """One row per preference pair of the answer (see `preference_pairs`)."""
    pairs = preference_pairs(item, questions_by_version)
    if not pairs:
        return []
    prompt = _chat(item.get("history") or [])
    if options.preference_format == "openai":
        return [
            {
                "input": {"messages": prompt},
                "preferred_output": [{"role": "assistant", "content": chosen}],
                "non_preferred_output": [{"role": "assistant", "content": rejected}],
            }
            for chosen, rejected in pairs
        ]
    return [
        {
            "prompt": prompt,
            "chosen": [{"role": "assistant", "content": chosen}],
            "rejected": [{"role": "assistant", "content": rejected}],
        }
        for chosen, rejected in pairs
    ]


RowsBuilder = Callable[[Item, QuestionsByVersion, RowOptions], list[Row]]


def _at_most_one(
    build: Callable[[Item, QuestionsByVersion, RowOptions], Row | None],
) -> RowsBuilder:
    def rows(
        item: Item, questions_by_version: QuestionsByVersion, options: RowOptions
    ) -> list[Row]:
        row = build(item, questions_by_version, options)
        return [] if row is None else [row]

    return rows


# The rows each answer yields: one at most, but a preference pair per correction.
ROW_BUILDERS: dict[str, RowsBuilder] = {
    "raw": _at_most_one(raw_row),
    "eval": _at_most_one(eval_row),
    "sft": _at_most_one(sft_row),
    "preference": preference_rows,
}


def _call_redact(call: dict[str, Any]) -> dict[str, Any]:
    """A tool call with PII redacted in its arguments (a search for someone's e-mail)."""
    function = call.get("function")
    if not isinstance(function, dict):
        return call
    return {
        **call,
        "function": {
            **function,
            "arguments": redact_pii_json(str(function.get("arguments") or "")),
        },
    }


def item_redact(item: Item) -> Item:
    """A copy of the item with PII redacted in every free-text field and in the
    identifiers that people or their systems choose (end users, voters, annotators,
    context ids and URLs): an e-mail address or a phone number is often the id."""

    def answers(values: dict[str, Any]) -> dict[str, Any]:
        return {
            key: redact_pii(value) if isinstance(value, str) else value
            for key, value in values.items()
        }

    def identifier(value: Any) -> Any:
        return redact_pii(str(value)) if value not in (None, "") else value

    return {
        **item,
        "end_user": identifier(item.get("end_user")),
        "history": [
            {
                **message,
                "content": (redact_pii_json if message.get("role") == "tool" else redact_pii)(
                    message.get("content") or ""
                ),
                **(
                    {"tool_calls": [_call_redact(call) for call in message["tool_calls"]]}
                    if message.get("tool_calls")
                    else {}
                ),
            }
            for message in item.get("history") or []
        ],
        "answer": redact_pii(item.get("answer") or ""),
        "contexts": [
            {
                **context,
                **{
                    key: identifier(context[key])
                    for key in ("id", "title", "url")
                    if key in context
                },
                "text": redact_pii(str(context.get("text") or "")),
            }
            if isinstance(context, dict)
            else context
            for context in item.get("contexts") or []
        ],
        "feedback": [
            {
                **vote,
                "user": identifier(vote.get("user")),
                "comment": redact_pii(vote.get("comment") or ""),
            }
            for vote in item.get("feedback") or []
        ],
        "annotations": [
            {
                **annotation,
                "annotator": identifier(annotation.get("annotator")),
                "answers": answers(annotation.get("answers") or {}),
                "corrected_answer": redact_pii(annotation.get("corrected_answer") or ""),
            }
            for annotation in item.get("annotations") or []
        ],
    }


def rows_build(
    items: Iterable[Item],
    *,
    kind: str,
    questions_by_version: QuestionsByVersion,
    options: RowOptions,
    redact: bool = False,
) -> Iterable[tuple[Item, Row]]:
    """(item, row) for every row of the kind that the items yield."""
    build = ROW_BUILDERS[kind]
    if not isinstance(questions_by_version, RubricIndex):
        questions_by_version = RubricIndex(questions_by_version)
    for item in items:
        source = item_redact(item) if redact else item
        for row in build(source, questions_by_version, options):
            yield item, row
