"""The export_dataset command: every kind in every format, filters, splits, redaction."""

import errno
import hashlib
import json
from io import StringIO

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotations.services.annotations import annotation_submit
from exports import selectors
from exports.rows import RowOptions
from exports.selectors import export_items
from exports.writers import JsonlWriter
from tests.exports.conftest import CORRECTED, FINE, PAIRWISE_CORRECTION, SYSTEM
from tests.exports.readers import read_rows
from tests.factories import ConversationFactory, FeedbackFactory, MessageFactory

FORMATS = ("jsonl", "csv", "parquet")
KINDS = ("raw", "eval", "sft", "preference")


def export(tmp_path, kind, file_format="jsonl", name=None, *args):
    output = tmp_path / (name or f"{kind}.{file_format}")
    call_command(
        "export_dataset",
        "--project=export-demo",
        f"--kind={kind}",
        f"--format={file_format}",
        f"--output={output}",
        "--quiet",
        *args,
    )
    return output


EXPECTED = {
    "raw": [
        (
            "c1",
            "m3",
            "",
            {"correctness": 4.5, "groundedness": 4.0, "helpfulness": 4.5, "errors": []},
        ),
        (
            "c2",
            "m2",
            CORRECTED,
            {
                "correctness": 2.0,
                "groundedness": 1.0,
                "helpfulness": 2.0,
                "errors": ["hallucination"],
            },
        ),
        ("c3", "m2", "", {}),
        ("c4", "m2", "", {}),
        (
            "c5",
            "m2",
            PAIRWISE_CORRECTION,
            {
                "correctness": 4.0,
                "groundedness": 4.0,
                "helpfulness": 4.0,
                "errors": [],
                "preference": "a",
            },
        ),
    ],
    "eval": [
        (
            "Celery 워커가 작업을 안 가져가요.",
            "브로커 URL을 확인하세요: `CELERY_BROKER_URL`.",
            ["Celery requires a message broker."],
            "",
        ),
        (
            "How do I retry a task? Call me at 010-1234-5678.",
            "Set retry=True in settings.",
            ["Tasks can retry with autoretry_for."],
            CORRECTED,
        ),
        ("hi", "Hello! How can I help?", [], ""),
        ("What is 2+2?", "5", [], ""),
        # Its only correction's author preferred the original: no reference.
        ("Explain acks_late.", "A long, right answer.", ["Start a worker."], ""),
    ],
    "sft": [
        [
            ("system", SYSTEM),
            ("user", "Celery 워커가 작업을 안 가져가요."),
            ("assistant", "브로커 URL을 확인하세요: `CELERY_BROKER_URL`."),
        ],
        [("user", "How do I retry a task? Call me at 010-1234-5678."), ("assistant", CORRECTED)],
        [("user", "hi"), ("assistant", "Hello! How can I help?")],
        # The pairwise label prefers the original, which reviewers rated 4: it stays.
        [("user", "Explain acks_late."), ("assistant", "A long, right answer.")],
    ],
    "preference": [
        (
            "How do I retry a task? Call me at 010-1234-5678.",
            CORRECTED,
            "Set retry=True in settings.",
        ),
        ("Explain acks_late.", "A long, right answer.", PAIRWISE_CORRECTION),
    ],
}


def project_rows(kind, rows):
    if kind == "raw":
        return [
            (row["conversation_id"], row["message_id"], row["corrected_answer"], row["consensus"])
            for row in rows
        ]
    if kind == "eval":
        return [
            (row["user_input"], row["response"], row["retrieved_contexts"], row["reference"])
            for row in rows
        ]
    if kind == "sft":
        return [[(m["role"], m["content"]) for m in row["messages"]] for row in rows]
    return [
        (row["prompt"][-1]["content"], row["chosen"][0]["content"], row["rejected"][0]["content"])
        for row in rows
    ]


@pytest.mark.parametrize("file_format", FORMATS)
@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_in_each_format_holds_the_expected_rows(labeled, tmp_path, kind, file_format):
    output = export(tmp_path, kind, file_format)

    rows = read_rows(output, file_format, kind)

    assert project_rows(kind, rows) == EXPECTED[kind]
    # Every format carries the same rows as JSONL, nested values included.
    reference = read_rows(export(tmp_path, kind, "jsonl", "reference.jsonl"), "jsonl", kind)
    assert rows == reference


def test_raw_rows_carry_votes_annotations_and_agreement(labeled, tmp_path):
    rows = read_rows(export(tmp_path, "raw"), "jsonl", "raw")

    first = rows[0]
    assert first["history"] == [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "Celery 워커가 작업을 안 가져가요."},
    ]
    assert first["feedback"] == {"up": 1, "down": 0, "reasons": [], "comments": ["고마워요!"]}
    assert [(a["annotator"], a["source"], a["rubric_version"]) for a in first["annotations"]] == [
        ("alice", "human", 1),
        ("bob", "human", 1),
    ]
    # Correctness and helpfulness split 5/4, groundedness and errors (none) agreed.
    assert first["agreement"] == 0.75
    assert (first["model"], first["prompt_name"], first["prompt_version"]) == (
        "gpt-4o-mini",
        "devot-rag",
        "3",
    )
    assert rows[3]["annotations"][0]["source"] == "model"
    assert rows[3]["consensus"] == {}


def test_openai_preference_format(labeled, tmp_path):
    output = export(tmp_path, "preference", "jsonl", None, "--preference-format=openai")

    rows = read_rows(output, "jsonl", "preference", RowOptions(preference_format="openai"))

    assert rows[0] == {
        "input": {
            "messages": [
                {"role": "user", "content": "How do I retry a task? Call me at 010-1234-5678."}
            ]
        },
        "preferred_output": [{"role": "assistant", "content": CORRECTED}],
        "non_preferred_output": [{"role": "assistant", "content": "Set retry=True in settings."}],
    }


def test_jsonl_keeps_korean_unescaped(labeled, tmp_path):
    text = export(tmp_path, "eval").read_text("utf-8")

    assert "워커가" in text
    assert "\\u" not in text


def test_manifest_describes_the_files(labeled, tmp_path):
    output = export(tmp_path, "raw", "parquet", None, "--model=gpt-4o-mini")

    manifest = json.loads((tmp_path / "manifest.json").read_text("utf-8"))

    assert manifest["kind"] == "raw"
    assert manifest["format"] == "parquet"
    assert manifest["schema_version"] == 3
    assert manifest["filters"] == {"model": "gpt-4o-mini"}
    assert manifest["rows"] == {"all": 4}
    assert manifest["rubric_versions"] == [1, 2]
    [entry] = manifest["files"]
    assert entry["path"] == "raw.parquet"
    assert entry["sha256"] == hashlib.sha256(output.read_bytes()).hexdigest()
    assert entry["bytes"] == output.stat().st_size


def test_pandas_and_pyarrow_read_every_format(labeled, tmp_path):
    frames = {
        "jsonl": pd.read_json(export(tmp_path, "eval", "jsonl"), lines=True),
        "csv": pd.read_csv(export(tmp_path, "eval", "csv"), keep_default_na=False),
        "parquet": pd.read_parquet(export(tmp_path, "eval", "parquet")),
    }

    for frame in frames.values():
        assert list(frame.columns) == [
            "conversation_id",
            "message_id",
            "user_input",
            "history",
            "response",
            "retrieved_contexts",
            "reference",
            "labels",
            "feedback",
        ]
        assert frame["user_input"].tolist()[0] == "Celery 워커가 작업을 안 가져가요."
        assert frame["reference"].tolist()[1] == CORRECTED
    table = pq.read_table(tmp_path / "eval.parquet")
    assert table.schema.field("retrieved_contexts").type == pa.list_(pa.string())
    assert table.column("feedback").to_pylist()[1]["down"] == 1


@pytest.mark.parametrize("file_format", FORMATS)
def test_hugging_face_datasets_loads_the_files(labeled, tmp_path, file_format):
    from datasets import load_dataset

    sft = export(tmp_path, "sft", file_format)
    preference = export(tmp_path, "preference", file_format)
    loader = {"jsonl": "json", "csv": "csv", "parquet": "parquet"}[file_format]

    sft_set = load_dataset(
        loader, data_files=str(sft), split="train", cache_dir=str(tmp_path / "hf")
    )
    pairs = load_dataset(
        loader, data_files=str(preference), split="train", cache_dir=str(tmp_path / "hf")
    )

    assert sft_set.num_rows == 4
    assert pairs.column_names == ["prompt", "chosen", "rejected"]
    if file_format != "csv":
        # No tool fields: this project logs no tool calls (chat templates test for the
        # key, and a null there breaks them).
        assert sft_set[0]["messages"][-1] == {
            "role": "assistant",
            "content": "브로커 URL을 확인하세요: `CELERY_BROKER_URL`.",
            "weight": 1,
        }
        assert pairs[0]["chosen"] == [{"role": "assistant", "content": CORRECTED}]
    else:
        assert json.loads(sft_set[0]["messages"])[0] == {"role": "system", "content": SYSTEM}


@pytest.mark.parametrize(
    ("arguments", "conversations"),
    [
        (["--tag=prod"], ["c2"]),
        (["--model=gpt-4.1"], ["c2"]),
        (["--prompt-name=devot-rag", "--prompt-version=3"], ["c1", "c3", "c4", "c5"]),
        (["--rating=down"], ["c2", "c4"]),
        (["--rating=up"], ["c1", "c3"]),
        (["--gold-only"], ["c1", "c2", "c5"]),
        (["--limit=2"], ["c1", "c2"]),
        (["--since=2000-01-01", "--until=2999-12-31"], ["c1", "c2", "c3", "c4", "c5"]),
        (["--since=2999-01-01"], []),
    ],
)
def test_filters(labeled, tmp_path, arguments, conversations):
    output = export(tmp_path, "raw", "jsonl", None, *arguments)

    rows = read_rows(output, "jsonl", "raw")

    assert [row["conversation_id"] for row in rows] == conversations


def test_queue_filter(labeled, tmp_path):
    output = export(tmp_path, "raw", "jsonl", None, f"--queue={labeled.queue.pk}")

    assert [row["conversation_id"] for row in read_rows(output, "jsonl", "raw")] == [
        "c1",
        "c2",
        "c3",
        "c4",
    ]


def test_redact_pii_covers_history_labels_and_comments(labeled, tmp_path):
    output = export(tmp_path, "raw", "jsonl", None, "--redact-pii")

    second = read_rows(output, "jsonl", "raw")[1]

    assert second["history"][0]["content"] == "How do I retry a task? Call me at [PHONE]."
    assert second["annotations"][0]["answers"]["note"] == "mail [EMAIL]"
    assert "010-1234-5678" not in output.read_text("utf-8")
    assert "kim@example.com" not in output.read_text("utf-8")


def test_redact_pii_covers_identifiers_people_choose(labeled, tmp_path):
    conversation = ConversationFactory(
        project=labeled.project, external_id="c9", end_user="kim.minsu@example.com"
    )
    MessageFactory(conversation=conversation, role="user", position=0, content="hi")
    answer = MessageFactory(
        conversation=conversation,
        position=1,
        contexts=[
            {
                "id": "lee@example.com",
                "url": "https://crm.example.com/u?email=lee@example.com&phone=010-1234-5678",
                "text": "t",
            }
        ],
    )
    FeedbackFactory(message=answer, end_user="010-9876-5432", rating="up")

    output = export(tmp_path, "raw", "jsonl", None, "--redact-pii")

    row = next(row for row in read_rows(output, "jsonl", "raw") if row["conversation_id"] == "c9")
    assert row["end_user"] == "[EMAIL]"
    assert row["votes"][0]["user"] == "[PHONE]"
    assert (row["contexts"][0]["id"], row["contexts"][0]["url"]) == (
        "[EMAIL]",
        "https://crm.example.com/u?email=[EMAIL]&phone=[PHONE]",
    )
    text = output.read_text("utf-8")
    assert "example.com/u?email=lee" not in text
    assert "kim.minsu@" not in text


def test_a_preference_export_pairs_each_reviewer_s_correction_by_their_own_verdict(
    labeled, tmp_path
):
    conversation = ConversationFactory(project=labeled.project, external_id="c7")
    MessageFactory(conversation=conversation, role="user", position=0, content="Why?")
    answer = MessageFactory(conversation=conversation, position=1, content="Original.")
    for name, correction, verdict in (
        ("carol", "Carol's fix.", "b"),
        ("dave", "Dave's worse one.", "a"),
    ):
        annotation_submit(
            message=answer,
            reviewer=get_user_model().objects.create(username=name),
            answers={**FINE, "corrected_answer": correction, "preference": verdict},
            rubric=labeled.rubric_v2,
        )

    rows = read_rows(export(tmp_path, "preference"), "jsonl", "preference")

    assert [
        (row["chosen"][0]["content"], row["rejected"][0]["content"])
        for row in rows
        if row["prompt"][-1]["content"] == "Why?"
    ] == [("Carol's fix.", "Original."), ("Original.", "Dave's worse one.")]
    sft = read_rows(export(tmp_path, "sft"), "jsonl", "sft")
    assert [
        row["messages"][-1]["content"] for row in sft if row["messages"][0]["content"] == "Why?"
    ] == ["Carol's fix."]


def _add_conversations(project, prefix, count):
    for n in range(count):
        conversation = ConversationFactory(project=project, external_id=f"{prefix}-{n}")
        MessageFactory(conversation=conversation, project=project, role="user", position=0)
        for position in (1, 3):
            answer = MessageFactory(
                conversation=conversation,
                project=project,
                external_id=f"a{position}",
                position=position,
            )
            FeedbackFactory(message=answer, rating="up")


def _split_members(directory):
    members = {}
    for split in ("train", "validation", "test"):
        for row in read_rows(directory / f"{split}.jsonl", "jsonl", "raw"):
            members.setdefault(row["conversation_id"], set()).add(split)
    return members


def test_split_keeps_conversations_whole_and_stays_stable_as_data_grows(labeled, tmp_path):
    _add_conversations(labeled.project, "old", 60)
    spec = "--split=train=0.6,validation=0.2,test=0.2"

    before = _split_members(export(tmp_path, "raw", "jsonl", "v1", spec, "--seed=7"))
    _add_conversations(labeled.project, "new", 30)
    after = _split_members(export(tmp_path, "raw", "jsonl", "v2", spec, "--seed=7"))

    assert all(len(splits) == 1 for splits in after.values())
    assert len(after) == len(before) + 30
    assert all(after[conversation] == splits for conversation, splits in before.items())
    manifest = json.loads((tmp_path / "v2" / "manifest.json").read_text("utf-8"))
    assert sum(manifest["rows"].values()) == manifest["rows_total"] == 5 + 90 * 2
    assert set(manifest["proportions"]) == {"train", "validation", "test"}
    assert manifest["seed"] == "7"
    assert sorted(entry["path"] for entry in manifest["files"]) == [
        "test.jsonl",
        "train.jsonl",
        "validation.jsonl",
    ]


def test_another_seed_gives_another_split(labeled, tmp_path):
    _add_conversations(labeled.project, "s", 40)
    spec = "--split=train=0.5,test=0.5"

    one = _split_members_two(export(tmp_path, "raw", "jsonl", "a", spec, "--seed=1"))
    two = _split_members_two(export(tmp_path, "raw", "jsonl", "b", spec, "--seed=2"))

    assert one != two


def _split_members_two(directory):
    return {
        row["conversation_id"]: split
        for split in ("train", "test")
        for row in read_rows(directory / f"{split}.jsonl", "jsonl", "raw")
    }


def test_reading_costs_a_fixed_number_of_queries_per_page(labeled):
    """No query per answer: the count depends on the number of pages only."""
    _add_conversations(labeled.project, "q", 10)

    with CaptureQueriesContext(connection) as small_pages:
        pages = list(export_items(project=labeled.project, filters={}, page_size=5))
    with CaptureQueriesContext(connection) as one_page:
        list(export_items(project=labeled.project, filters={}, page_size=1000))

    def reads(captured):
        # All but turning PostgreSQL's JIT off and on again.
        return [
            query
            for query in captured
            if "set_config" not in query["sql"] and "current_setting" not in query["sql"]
        ]

    assert sum(len(page) for page in pages) == 25
    assert len(pages) == 5
    if connection.vendor == "postgresql":
        # Each page in one query; the ids listed LISTED_PAGES pages at a time, and
        # once more to find none after a last listing that came full.
        listed = 5 * selectors.LISTED_PAGES
        listings = -(-25 // listed) + (25 % listed == 0)
        assert len(reads(small_pages)) == 5 + listings
        assert len(reads(one_page)) == 2
    else:
        # Elsewhere five a page (answers, conversations, messages, votes, labels), and
        # one more that finds no answer after the last full page.
        assert len(reads(small_pages)) == 5 * 5 + 1
        assert len(reads(one_page)) == 5


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--project=nope", "--kind=raw", "--format=jsonl"], "No project with the slug 'nope'"),
        (["--project=export-demo", "--kind=raw", "--format=jsonl", "--split=train=0.9"], "--split"),
        (["--project=export-demo", "--kind=raw", "--format=jsonl", "--since=yesterday"], "--since"),
        (["--project=export-demo", "--kind=raw", "--format=jsonl", "--limit=0"], "--limit"),
        (["--project=export-demo", "--kind=raw", "--format=jsonl", "--queue=999999"], "No queue"),
        (
            ["--project=export-demo", "--kind=sft", "--format=jsonl", "--sft-min-rating=high"],
            "--sft-min-rating",
        ),
    ],
)
def test_bad_arguments_fail_with_a_clear_message(labeled, tmp_path, arguments, message):
    with pytest.raises(CommandError, match=message):
        call_command("export_dataset", *arguments, f"--output={tmp_path / 'out.jsonl'}")

    assert list(tmp_path.iterdir()) == []


def test_an_output_named_like_the_manifest_is_refused(labeled, tmp_path):
    """The manifest goes beside the data: a data file of that name would be replaced."""
    earlier = export(tmp_path, "raw", "jsonl")
    manifest = (tmp_path / "manifest.json").read_bytes()

    with pytest.raises(CommandError, match=r"manifest\.json is the name of the manifest"):
        export(tmp_path, "sft", "jsonl", "manifest.json")

    assert (tmp_path / "manifest.json").read_bytes() == manifest
    assert sorted(path.name for path in tmp_path.iterdir()) == ["manifest.json", earlier.name]


def _full_disk_closing(monkeypatch, name):
    """Closing the writer of the file `name` fails as a full disk would."""
    close = JsonlWriter._close

    def full(self):
        close(self)
        if self.path.name == name:
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(JsonlWriter, "_close", full)


def test_a_full_disk_closing_a_later_split_leaves_the_earlier_export_whole(
    labeled, tmp_path, monkeypatch
):
    directory = export(tmp_path, "raw", "jsonl", "splits", "--split=train=0.5,test=0.5")
    before = {path.name: path.read_bytes() for path in directory.iterdir()}
    _full_disk_closing(monkeypatch, "test.jsonl")

    with pytest.raises(CommandError, match="Cannot write the export: No space left on device"):
        export(tmp_path, "raw", "jsonl", "splits", "--split=train=0.5,test=0.5", "--redact-pii")

    assert {path.name: path.read_bytes() for path in directory.iterdir()} == before


def test_a_full_disk_fails_a_single_file_export_cleanly(labeled, tmp_path, monkeypatch):
    _full_disk_closing(monkeypatch, "raw.jsonl")

    with pytest.raises(CommandError, match="Cannot write the export: No space left on device"):
        export(tmp_path, "raw", "jsonl")

    assert list(tmp_path.iterdir()) == []


def test_unknown_kind_or_format_is_refused(labeled, tmp_path):
    with pytest.raises(CommandError, match="invalid choice"):
        call_command(
            "export_dataset",
            "--project=export-demo",
            "--kind=dpo",
            "--format=jsonl",
            f"--output={tmp_path / 'x'}",
        )


@pytest.mark.parametrize("where", ["missing/dir/out.jsonl", "a-file/out.jsonl", "."])
def test_unwritable_paths_fail_without_leaving_files(labeled, tmp_path, where):
    (tmp_path / "a-file").write_text("not a directory")

    with pytest.raises(CommandError, match="Cannot write the export"):
        export(tmp_path, "raw", "jsonl", where)

    assert sorted(path.name for path in tmp_path.iterdir()) == ["a-file"]


def test_a_failure_midway_leaves_no_partial_file_and_keeps_the_old_one(
    labeled, tmp_path, monkeypatch
):
    output = export(tmp_path, "raw", "jsonl")
    old = output.read_bytes()

    def explode(self, lines):
        raise RuntimeError("disk full")

    # Where every row reaches the file, whoever built it.
    monkeypatch.setattr("exports.writers.JsonlWriter._write_lines", explode)
    with pytest.raises(RuntimeError, match="disk full"):
        export(tmp_path, "raw", "jsonl")
    with pytest.raises(RuntimeError, match="disk full"):
        export(tmp_path, "raw", "jsonl", "split-dir", "--split=train=0.5,test=0.5")

    assert output.read_bytes() == old
    assert sorted(path.name for path in tmp_path.iterdir()) == ["manifest.json", "raw.jsonl"]


def test_summary_is_printed_unless_quiet(labeled, tmp_path):
    out = StringIO()
    call_command(
        "export_dataset",
        "--project=export-demo",
        "--kind=sft",
        "--format=jsonl",
        f"--output={tmp_path / 'sft.jsonl'}",
        stdout=out,
        stderr=StringIO(),
    )

    assert out.getvalue() == f"Wrote 4 sft rows (all 4) to {tmp_path / 'sft.jsonl'}.\n"


@pytest.mark.parametrize("file_format", FORMATS)
def test_a_split_export_carries_a_dataset_card_with_its_types(labeled, tmp_path, file_format):
    from datasets import List, Value, load_dataset, load_dataset_builder

    directory = export(tmp_path, "eval", file_format, "eval-split", "--split=train=0.5,test=0.5")
    manifest = json.loads((directory / "manifest.json").read_text())
    options = {}
    if file_format == "csv":
        # CSV is read in chunks of rows, typed chunk by chunk unless given the card's
        # types: with one row a chunk, an empty reference would otherwise be a number.
        card_types = load_dataset_builder(str(directory), cache_dir=str(tmp_path / "hf"))
        options = {"chunksize": 1, "features": card_types.info.features}

    dataset = load_dataset(str(directory), cache_dir=str(tmp_path / "hf"), **options)

    assert (directory / "README.md").is_file()
    assert sorted(dataset) == ["test", "train"]
    assert {name: dataset[name].num_rows for name in dataset} == manifest["rows"]
    features = dataset["train"].features
    assert features["reference"] == Value("string")
    assert features["user_input"] == Value("string")
    if file_format == "csv":
        assert features["retrieved_contexts"] == Value("string")
    else:
        assert features["retrieved_contexts"] == List(Value("string"))
        assert features["history"] == List({"role": Value("string"), "content": Value("string")})
    rows = sorted(
        (row for name in dataset for row in dataset[name]), key=lambda row: row["conversation_id"]
    )
    assert [row["conversation_id"] for row in rows] == ["c1", "c2", "c3", "c4", "c5"]
    assert rows[1]["reference"] == CORRECTED
    labels = rows[0]["labels"]
    labels = json.loads(labels) if isinstance(labels, str) else labels
    assert labels["correctness"] == 4.5


@pytest.mark.parametrize("file_format", FORMATS)
def test_a_split_without_rows_is_left_out_of_the_card(labeled, tmp_path, file_format):
    """`datasets` refuses to load a directory whose card lists a split with no data."""
    from datasets import load_dataset

    directory = export(
        tmp_path, "eval", file_format, "small", "--split=train=0.98,test=0.01,validation=0.01"
    )
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest["rows"] == {"train": 4, "test": 1, "validation": 0}

    dataset = load_dataset(str(directory), cache_dir=str(tmp_path / "hf"))

    assert {name: dataset[name].num_rows for name in dataset} == {"train": 4, "test": 1}
    assert (directory / f"validation.{file_format}").is_file()


def test_the_raw_jsonl_card_types_the_rubric_answers_as_json(labeled, tmp_path):
    from datasets import load_dataset

    directory = export(tmp_path, "raw", "jsonl", "raw-split", "--split=train=0.5,test=0.5")

    dataset = load_dataset(str(directory), cache_dir=str(tmp_path / "hf"))

    rows = {row["conversation_id"]: row for name in dataset for row in dataset[name]}
    answers = rows["c2"]["annotations"][0]["answers"]
    answers = json.loads(answers) if isinstance(answers, str) else answers
    assert answers["errors"] == ["hallucination"]
    assert rows["c1"]["contexts"][0]["title"] == "Celery: First steps"


def test_no_card_for_split_names_that_datasets_refuses(labeled, tmp_path):
    directory = export(tmp_path, "eval", "jsonl", "dashed", "--split=train-a=0.5,test-b=0.5")

    assert (directory / "manifest.json").is_file()
    assert not (directory / "README.md").exists()


def test_a_new_split_export_into_the_same_directory_leaves_no_stale_split(labeled, tmp_path):
    first = "--split=train=0.6,validation=0.2,test=0.2"
    directory = export(tmp_path, "eval", "jsonl", "reused", first)
    assert (directory / "validation.jsonl").is_file()
    (directory / "notes.txt").write_text("the user's own file")

    export(tmp_path, "eval", "jsonl", "reused", "--split=train=0.5,test=0.5")

    manifest = json.loads((directory / "manifest.json").read_text())
    assert sorted(entry["path"] for entry in manifest["files"]) == ["test.jsonl", "train.jsonl"]
    assert sorted(path.name for path in directory.iterdir()) == [
        "README.md",
        "manifest.json",
        "notes.txt",
        "test.jsonl",
        "train.jsonl",
    ]


def test_a_split_export_keeps_files_it_did_not_write_and_a_readme_of_the_users(labeled, tmp_path):
    directory = tmp_path / "shared"
    directory.mkdir()
    export(tmp_path, "eval", "jsonl", "shared/mine.jsonl")  # a single-file export there
    (directory / "README.md").write_text("# My notes\n")

    export(tmp_path, "eval", "jsonl", "shared", "--split=train=0.5,test=0.5")

    assert (directory / "mine.jsonl").is_file()
    assert (directory / "README.md").read_text() == "# My notes\n"
    assert (directory / "train.jsonl").is_file()


def test_an_earlier_card_goes_when_the_new_split_names_allow_none(labeled, tmp_path):
    directory = export(tmp_path, "eval", "jsonl", "again", "--split=train=0.5,test=0.5")
    assert (directory / "README.md").is_file()

    export(tmp_path, "eval", "jsonl", "again", "--split=part-a=0.5,part-b=0.5")

    assert not (directory / "README.md").exists()
    assert sorted(p.name for p in directory.iterdir()) == [
        "manifest.json",
        "part-a.jsonl",
        "part-b.jsonl",
    ]


@pytest.mark.parametrize("file_format", ["jsonl", "csv", "parquet"])
@pytest.mark.parametrize("kind", ["raw", "sft"])
def test_each_split_file_is_listed_with_its_own_sha256_and_size(
    labeled, tmp_path, kind, file_format
):
    """JSON Lines and CSV files are hashed as they are written, Parquet files read back."""
    export(tmp_path, kind, file_format, "split-dir", "--split=train=0.5,test=0.5", "--seed=3")

    manifest = json.loads((tmp_path / "split-dir" / "manifest.json").read_text("utf-8"))

    assert manifest["files"]
    for entry in manifest["files"]:
        data = (tmp_path / "split-dir" / entry["path"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["bytes"] == len(data)
