"""Row builders and consensus over plain dicts (no database)."""

from annotations.rubrics import default_rag_questions
from exports.rows import (
    RAW_COLUMNS,
    RowOptions,
    agreement,
    approved_answer,
    consensus,
    eval_row,
    item_redact,
    preference_rows,
    raw_row,
    reason_counts,
    sft_row,
)

QUESTIONS = {
    1: default_rag_questions(),
    2: [
        *default_rag_questions(),
        {"key": "preference", "type": "pairwise", "label": {"en": "Better?"}},
        {"key": "safe", "type": "boolean", "label": {"en": "Safe?"}},
        {
            "key": "topic",
            "type": "single_choice",
            "label": {"en": "Topic"},
            "options": [{"value": "celery"}, {"value": "django"}],
        },
    ],
}


def label(annotator, answers, version=1, source="human", corrected="", updated="2026-01-01"):
    return {
        "annotator": annotator,
        "source": source,
        "rubric_version": version,
        "answers": answers,
        "corrected_answer": corrected,
        "created_at": updated,
        "updated_at": updated,
    }


def item(**overrides):
    base = {
        "conversation_id": "c1",
        "message_id": "m3",
        "created_at": "2026-11-25T10:00:00+00:00",
        "tags": ["beta"],
        "end_user": "u-42",
        "history": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "첫 질문"},
            {"role": "assistant", "content": "첫 답"},
            {"role": "tool", "content": "{}"},
            {"role": "user", "content": "Celery 워커가 안 돌아요"},
        ],
        "answer": "브로커를 확인하세요.",
        "contexts": [{"id": "doc-1", "text": "Celery needs a broker.", "score": 0.9, "x": 1}],
        "model": "gpt-4o-mini",
        "prompt_name": "devot-rag",
        "prompt_version": "3",
        "latency_ms": 120,
        "feedback": [],
        "annotations": [],
    }
    base.update(overrides)
    return base


def test_consensus_is_the_mean_of_ratings_and_the_majority_of_choices():
    labels = [
        label(
            "a", {"correctness": 5, "errors": ["incomplete"], "safe": True, "topic": "celery"}, 2
        ),
        label("b", {"correctness": 4, "errors": ["incomplete", "tone"], "safe": True}, 2),
        label("c", {"correctness": 2, "errors": [], "safe": False, "topic": "django"}, 2),
        label("judge", {"correctness": 1}, 2, source="model"),
    ]

    assert consensus(labels, QUESTIONS) == {
        "correctness": 3.6667,
        "errors": ["incomplete"],
        "safe": True,
        "topic": None,
    }


def test_consensus_leaves_out_text_and_unknown_questions():
    labels = [label("a", {"note": "hm", "corrected_answer": "x", "gone": 3, "helpfulness": 3})]

    assert consensus(labels, QUESTIONS) == {"helpfulness": 3.0, "errors": []}


def test_multiple_choice_counts_the_reviewers_who_chose_none():
    """An empty selection is not stored; it still counts against the options."""
    fine = {"correctness": 5, "groundedness": 5, "helpfulness": 5}
    labels = [
        label("a", fine),
        label("b", fine),
        label("c", {"correctness": 4, "errors": ["tone"]}),
        label("judge", {"errors": []}, source="model"),
    ]

    assert consensus(labels, QUESTIONS)["errors"] == []
    assert consensus(labels[1:], QUESTIONS)["errors"] == []  # one of two: not a majority
    assert consensus(labels[2:], QUESTIONS)["errors"] == ["tone"]
    # errors: 2 of 3 agree on none; correctness 2 of 3 on 5; the others all agree.
    assert agreement(labels[:3], QUESTIONS) == round((2 / 3 + 2 / 3 + 1 + 1) / 4, 4)


def test_multiple_choice_leaves_out_reviewers_whose_rubric_lacks_the_question():
    questions = {**QUESTIONS, 3: [{"key": "correctness", "type": "rating"}]}
    labels = [label("a", {"errors": ["tone"]}), label("b", {"correctness": 4}, version=3)]

    assert consensus(labels, questions) == {"errors": ["tone"], "correctness": 4.0}


def test_agreement_is_the_share_agreeing_with_the_most_common_answer():
    labels = [label("a", {"correctness": 5}), label("b", {"correctness": 5})]
    labels.append(label("c", {"correctness": 3}))

    # Correctness: 2 of 3 give 5; errors: all 3 chose none.
    assert agreement(labels, QUESTIONS) == round((2 / 3 + 1) / 2, 4)
    assert agreement(labels[:1], QUESTIONS) is None


def test_raw_row_has_every_column_in_order():
    row = raw_row(
        item(
            feedback=[
                {"user": "u1", "rating": "down", "reasons": ["incorrect"], "comment": "no"},
                {"user": "u2", "rating": "down", "reasons": ["incorrect", "slow"], "comment": ""},
            ],
            annotations=[label("alice", {"correctness": 2}, corrected="고친 답")],
        ),
        QUESTIONS,
        RowOptions(),
    )

    assert tuple(row) == RAW_COLUMNS
    assert row["feedback"] == {
        "up": 0,
        "down": 2,
        "reasons": [{"reason": "incorrect", "count": 2}, {"reason": "slow", "count": 1}],
        "comments": ["no"],
    }
    assert row["contexts"] == [
        {"id": "doc-1", "title": None, "url": None, "text": "Celery needs a broker.", "score": 0.9}
    ]
    assert row["consensus"] == {"correctness": 2.0, "errors": []}
    assert row["corrected_answer"] == "고친 답"
    assert row["gold_label"] is None


def test_eval_row_uses_the_names_evaluation_tools_read():
    row = eval_row(
        item(annotations=[label("a", {"correctness": 4}, corrected="더 나은 답")]),
        QUESTIONS,
        RowOptions(),
    )

    assert row["user_input"] == "Celery 워커가 안 돌아요"
    assert row["response"] == "브로커를 확인하세요."
    assert row["retrieved_contexts"] == ["Celery needs a broker."]
    assert row["reference"] == "더 나은 답"
    assert row["labels"] == {"correctness": 4.0, "errors": []}
    assert len(row["history"]) == 5


def test_sft_row_ends_with_an_approved_answer_and_drops_tool_turns():
    good = item(annotations=[label("a", {"correctness": 5, "groundedness": 4, "helpfulness": 4})])

    row = sft_row(good, QUESTIONS, RowOptions())

    assert row == {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "첫 질문"},
            {"role": "assistant", "content": "첫 답", "weight": 0},
            {"role": "user", "content": "Celery 워커가 안 돌아요"},
            {"role": "assistant", "content": "브로커를 확인하세요.", "weight": 1},
        ]
    }


def test_sft_trains_only_on_the_approved_answer_not_earlier_turns_rated_bad():
    """OpenAI trains on every assistant message unless its weight is 0."""
    wrong = "Use pip freeze > /etc/passwd"
    history = [
        {"role": "user", "content": "How do I pin a dependency?"},
        {"role": "assistant", "content": wrong},
        {"role": "user", "content": "And with poetry?"},
    ]
    good = {"correctness": 5, "groundedness": 5, "helpfulness": 5}

    row = sft_row(
        item(history=history, answer="poetry add pkg@^1.2", annotations=[label("a", good)]),
        QUESTIONS,
        RowOptions(),
    )

    assert row["messages"] == [
        {"role": "user", "content": "How do I pin a dependency?"},
        {"role": "assistant", "content": wrong, "weight": 0},
        {"role": "user", "content": "And with poetry?"},
        {"role": "assistant", "content": "poetry add pkg@^1.2", "weight": 1},
    ]


def test_sft_never_uses_an_answer_rated_below_the_bar():
    rated_low = item(
        annotations=[label("a", {"correctness": 3, "helpfulness": 5})],
        feedback=[{"user": "u1", "rating": "up"}],
    )

    assert sft_row(rated_low, QUESTIONS, RowOptions()) is None
    assert sft_row(rated_low, QUESTIONS, RowOptions(sft_min_rating=3)) is not None


def test_sft_takes_thumbs_up_without_labels_but_not_a_split_vote():
    up = item(feedback=[{"user": "u1", "rating": "up"}])
    split_vote = item(feedback=[{"user": "u1", "rating": "up"}, {"user": "u2", "rating": "down"}])

    assert approved_answer(up, QUESTIONS, 4) == "브로커를 확인하세요."
    assert approved_answer(split_vote, QUESTIONS, 4) is None


def test_sft_keeps_out_a_thumbs_up_answer_with_a_negative_label():
    up = [{"user": "u1", "rating": "up"}]
    flagged = item(feedback=up, annotations=[label("a", {"errors": ["hallucination"]})])
    judged_bad = item(feedback=up, annotations=[label("judge", {"correctness": 1}, source="model")])
    judged_good = item(
        feedback=up, annotations=[label("judge", {"correctness": 5}, source="model")]
    )

    assert approved_answer(flagged, QUESTIONS, 4) is None
    assert approved_answer(judged_bad, QUESTIONS, 4) is None
    assert approved_answer(judged_good, QUESTIONS, 4) == "브로커를 확인하세요."


def test_sft_keeps_out_a_well_rated_answer_with_an_error_chosen():
    labels = [
        label("a", {"correctness": 5, "groundedness": 5, "helpfulness": 5, "errors": ["unsafe"]}),
        label("b", {"correctness": 5, "groundedness": 5, "helpfulness": 5, "errors": []}),
    ]

    assert approved_answer(item(annotations=labels), QUESTIONS, 4) is None
    # A correction is still used: the reviewer wrote the answer as it should be.
    labels[0]["corrected_answer"] = "안전한 답"
    assert approved_answer(item(annotations=labels), QUESTIONS, 4) == "안전한 답"


def test_the_sft_bar_is_moved_onto_each_questions_scale():
    def rubric(low, high):
        return {1: [{"key": "quality", "type": "rating", "scale": {"min": low, "max": high}}]}

    def rated(value):
        return item(annotations=[label("a", {"quality": value})])

    ten = rubric(1, 10)  # 4 of 1-5 is 7.75 of 1-10
    assert approved_answer(rated(4), ten, 4) is None
    assert approved_answer(rated(7), ten, 4) is None
    assert approved_answer(rated(8), ten, 4) == "브로커를 확인하세요."
    three = rubric(1, 3)  # 4 of 1-5 is 2.5 of 1-3
    assert approved_answer(rated(3), three, 4) == "브로커를 확인하세요."
    assert approved_answer(rated(2), three, 4) is None


def test_sft_prefers_the_corrected_answer():
    corrected = item(annotations=[label("a", {"correctness": 1}, corrected="Fixed.")])

    assert sft_row(corrected, QUESTIONS, RowOptions())["messages"][-1] == {
        "role": "assistant",
        "content": "Fixed.",
        "weight": 1,
    }


def _two_reviewers_disagreeing():
    """Alice's correction, which she prefers to the answer; Bob's later one, which he
    ranks below it."""
    return item(
        answer="Original.",
        annotations=[
            label("alice", {"preference": "b"}, 2, corrected="Alice's fix.", updated="2026-01-01"),
            label("bob", {"preference": "a"}, 2, corrected="Bob's worse.", updated="2026-01-02"),
        ],
    )


def test_each_reviewer_s_correction_is_paired_by_that_reviewer_s_own_verdict():
    rows = preference_rows(_two_reviewers_disagreeing(), QUESTIONS, RowOptions())

    assert [(row["chosen"][0]["content"], row["rejected"][0]["content"]) for row in rows] == [
        ("Alice's fix.", "Original."),
        ("Original.", "Bob's worse."),
    ]


def test_sft_takes_the_latest_correction_its_author_did_not_rank_below_the_answer():
    row = sft_row(_two_reviewers_disagreeing(), QUESTIONS, RowOptions())

    assert row["messages"][-1]["content"] == "Alice's fix."


def test_the_same_correction_from_two_reviewers_gives_one_pair_by_their_majority():
    def same(*verdicts):
        labels = [
            label(name, {"preference": verdict}, 2, corrected="Same fix.")
            for name, verdict in zip(("a", "b", "c"), verdicts, strict=False)
        ]
        rows = preference_rows(item(annotations=labels), QUESTIONS, RowOptions())
        return [(row["chosen"][0]["content"], row["rejected"][0]["content"]) for row in rows]

    assert same("b", "b") == [("Same fix.", "브로커를 확인하세요.")]
    assert same("a", "a", "b") == [("브로커를 확인하세요.", "Same fix.")]
    assert same("a", "b") == []


def test_preference_pairs_the_correction_with_the_original():
    corrected = item(annotations=[label("a", {"correctness": 1}, corrected="Fixed.")])

    [row] = preference_rows(corrected, QUESTIONS, RowOptions())

    assert row["chosen"] == [{"role": "assistant", "content": "Fixed."}]
    assert row["rejected"] == [{"role": "assistant", "content": "브로커를 확인하세요."}]
    assert row["prompt"][-1] == {"role": "user", "content": "Celery 워커가 안 돌아요"}


def test_pairwise_label_orders_the_pair_and_a_tie_gives_none():
    prefers_original = item(
        annotations=[label("a", {"preference": "a"}, version=2, corrected="Shorter.")]
    )
    tie = item(annotations=[label("a", {"preference": "tie"}, version=2, corrected="Shorter.")])

    [row] = preference_rows(prefers_original, QUESTIONS, RowOptions())

    assert row["chosen"][0]["content"] == "브로커를 확인하세요."
    assert row["rejected"][0]["content"] == "Shorter."
    assert preference_rows(tie, QUESTIONS, RowOptions()) == []


def test_openai_preference_shape():
    corrected = item(annotations=[label("a", {}, corrected="Fixed.")])

    [row] = preference_rows(corrected, QUESTIONS, RowOptions(preference_format="openai"))

    assert set(row) == {"input", "preferred_output", "non_preferred_output"}
    assert row["input"]["messages"][0] == {"role": "system", "content": "Be brief."}
    assert row["preferred_output"] == [{"role": "assistant", "content": "Fixed."}]


def test_no_preference_without_a_correction_and_none_from_a_model_correction():
    model_fix = item(annotations=[label("judge", {}, source="model", corrected="Judge's.")])

    assert preference_rows(item(), QUESTIONS, RowOptions()) == []
    assert preference_rows(model_fix, QUESTIONS, RowOptions()) == []


def test_latest_correction_wins():
    two = item(
        annotations=[
            label("a", {}, corrected="Later.", updated="2026-02-01"),
            label("b", {}, corrected="Earlier.", updated="2026-01-01"),
        ]
    )

    assert raw_row(two, QUESTIONS, RowOptions())["corrected_answer"] == "Later."


def test_item_redact_covers_every_text_field():
    dirty = item(
        history=[{"role": "user", "content": "제 번호는 010-1234-5678"}],
        answer="메일 kim@example.com",
        contexts=[{"title": "IP 10.0.0.1", "text": "카드 4111 1111 1111 1111"}],
        feedback=[{"user": "u1", "rating": "down", "comment": "sk-abcdefghijklmnop1234"}],
        annotations=[label("a", {"note": "010-9999-8888"}, corrected="900101-1234567")],
    )

    clean = item_redact(dirty)

    assert clean["history"][0]["content"] == "제 번호는 [PHONE]"
    assert clean["answer"] == "메일 [EMAIL]"
    assert clean["contexts"][0] == {"title": "IP [IP]", "text": "카드 [CARD]"}
    assert clean["feedback"][0]["comment"] == "[SECRET]"
    assert clean["annotations"][0]["answers"] == {"note": "[PHONE]"}
    assert clean["annotations"][0]["corrected_answer"] == "[RRN]"
    assert dirty["answer"] == "메일 kim@example.com"


def test_item_redact_covers_identifiers_that_people_choose():
    dirty = item(
        end_user="kim.minsu@example.com",
        contexts=[
            {
                "id": "lee@example.com",
                "url": "https://crm.example.com/u?email=lee@example.com&phone=010-1234-5678",
                "text": "t",
            }
        ],
        feedback=[{"user": "010-9876-5432", "rating": "up", "comment": ""}],
        annotations=[label("park@example.com", {})],
    )

    clean = item_redact(dirty)

    assert clean["end_user"] == "[EMAIL]"
    assert clean["contexts"][0]["id"] == "[EMAIL]"
    assert clean["contexts"][0]["url"] == "https://crm.example.com/u?email=[EMAIL]&phone=[PHONE]"
    assert clean["feedback"][0]["user"] == "[PHONE]"
    assert clean["annotations"][0]["annotator"] == "[EMAIL]"
    # Plain ids stay as they are.
    assert item_redact(item())["end_user"] == "u-42"
    assert item_redact(item())["contexts"][0]["id"] == "doc-1"


def test_eval_reference_is_the_latest_correction_its_author_preferred():
    # Bob's later correction is one he ranked below the answer: Alice's is the reference.
    assert eval_row(_two_reviewers_disagreeing(), QUESTIONS, RowOptions())["reference"] == (
        "Alice's fix."
    )
    only_worse = item(annotations=[label("bob", {"preference": "a"}, 2, corrected="Bob's worse.")])
    assert eval_row(only_worse, QUESTIONS, RowOptions())["reference"] == ""


SEARCH = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "search_docs", "arguments": '{"q": "retry", "mail": "a@b.co"}'},
}
VERSION = {"id": "call_2", "type": "function", "function": {"name": "version", "arguments": "{}"}}


def tool_history(*calls, results=("call_1", "call_2")):
    return [
        {"role": "user", "content": "재시도는?"},
        {"role": "assistant", "content": "", "tool_calls": list(calls)},
        *({"role": "tool", "content": f"result of {cid}", "tool_call_id": cid} for cid in results),
    ]


GOOD_LABEL = label("a", {"correctness": 5, "groundedness": 5, "helpfulness": 5})


def test_sft_keeps_tool_calls_with_the_results_that_answer_them():
    row = sft_row(
        item(history=tool_history(SEARCH, VERSION), annotations=[GOOD_LABEL]),
        QUESTIONS,
        RowOptions(),
    )

    assert row["messages"] == [
        {"role": "user", "content": "재시도는?"},
        {"role": "assistant", "content": "", "tool_calls": [SEARCH, VERSION], "weight": 0},
        {"role": "tool", "tool_call_id": "call_1", "content": "result of call_1"},
        {"role": "tool", "tool_call_id": "call_2", "content": "result of call_2"},
        {"role": "assistant", "content": "브로커를 확인하세요.", "weight": 1},
    ]


def test_calls_whose_results_are_missing_are_left_out_with_their_partial_results():
    """A fine-tuning API refuses a tool call without its result, and a result without
    its call: a call answered only in part drops the call and the results it got."""
    history = [
        *tool_history(SEARCH, VERSION, results=("call_1",)),
        {"role": "tool", "content": "stray", "tool_call_id": "call_9"},
        {"role": "user", "content": "그리고?"},
    ]

    row = sft_row(item(history=history, annotations=[GOOD_LABEL]), QUESTIONS, RowOptions())

    assert row["messages"] == [
        {"role": "user", "content": "재시도는?"},
        {"role": "user", "content": "그리고?"},
        {"role": "assistant", "content": "브로커를 확인하세요.", "weight": 1},
    ]


def test_a_call_that_says_something_keeps_its_text_when_its_calls_go():
    history = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "Let me look.", "tool_calls": [SEARCH]},
    ]

    [row] = preference_rows(
        item(history=history, annotations=[label("a", {}, corrected="Fixed.")]),
        QUESTIONS,
        RowOptions(),
    )

    assert row["prompt"] == [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "Let me look."},
    ]


def test_raw_and_eval_history_carry_tool_fields_only_where_set():
    history = tool_history(SEARCH, VERSION)

    raw = raw_row(item(history=history), QUESTIONS, RowOptions())
    evaluated = eval_row(item(history=history), QUESTIONS, RowOptions())

    for row in (raw, evaluated):
        assert row["history"][0] == {"role": "user", "content": "재시도는?"}
        assert row["history"][1] == {
            "role": "assistant",
            "content": "",
            "tool_calls": [SEARCH, VERSION],
        }
        assert row["history"][2] == {
            "role": "tool",
            "content": "result of call_1",
            "tool_call_id": "call_1",
        }
    assert evaluated["user_input"] == "재시도는?"


def test_redaction_reaches_tool_call_arguments():
    redacted = item_redact(item(history=tool_history(SEARCH, VERSION)))

    arguments = redacted["history"][1]["tool_calls"][0]["function"]["arguments"]
    assert arguments == '{"q": "retry", "mail": "[EMAIL]"}'
    assert redacted["history"][1]["tool_calls"][1] == VERSION
    assert SEARCH["function"]["arguments"].endswith('"a@b.co"}')


def test_a_call_stays_only_with_results_right_after_it():
    """Call ids may repeat across turns, and a result may be logged out of place: a
    fine-tuning API wants every call answered by the tool messages that follow it."""
    reused = [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "", "tool_calls": [SEARCH]},  # result not logged
        {"role": "user", "content": "b"},
        {"role": "assistant", "content": "", "tool_calls": [SEARCH]},
        {"role": "tool", "content": "found", "tool_call_id": "call_1"},
        {"role": "tool", "content": "again", "tool_call_id": "call_1"},
    ]
    out_of_place = [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "", "tool_calls": [SEARCH, VERSION]},
        {"role": "tool", "content": "found", "tool_call_id": "call_1"},
        {"role": "assistant", "content": "Partial."},
        {"role": "tool", "content": "5.4", "tool_call_id": "call_2"},
    ]

    def chat(history):
        row = sft_row(item(history=history, annotations=[GOOD_LABEL]), QUESTIONS, RowOptions())
        return [
            (m["role"], m["content"], bool(m.get("tool_calls")), m.get("tool_call_id"))
            for m in row["messages"][:-1]
        ]

    assert chat(reused) == [
        ("user", "a", False, None),
        ("user", "b", False, None),
        ("assistant", "", True, None),
        ("tool", "found", False, "call_1"),
    ]
    assert chat(out_of_place) == [
        ("user", "a", False, None),
        ("assistant", "Partial.", False, None),
    ]


def test_reason_counts_take_lists_only_and_count_other_values_by_their_json():
    """The API stores reasons as lists of strings; the admin can store anything."""
    counted = reason_counts([["a", "b"], {"a": 1}, "ab", None, ["b", 1, ["n"], None], ["1"]])

    assert counted == [
        {"reason": "1", "count": 2},
        {"reason": "b", "count": 2},
        {"reason": '["n"]', "count": 1},
        {"reason": "a", "count": 1},
        {"reason": "null", "count": 1},
    ]
