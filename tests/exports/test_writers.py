"""CSV lines as csv.writer writes them, and Parquet batches through Arrow's JSON reader."""

import csv
import io
import json
import os
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given
from hypothesis import strategies as st

from exports.parquet import ParquetWriter
from exports.rows import RowOptions
from exports.schemas import JSON, schema_for
from exports.writers import csv_line


def _csv_writer_line(values):
    buffer = io.StringIO()
    csv.writer(buffer).writerow(values)
    return buffer.getvalue()


TRICKY_TEXT = [
    "",
    "plain",
    "with, comma",
    'with "quotes"',
    "line\nbreak",
    "carriage\rreturn",
    "crlf\r\n",
    '"',
    ",",
    "  spaces around  ",
    "tab\there",
    "Celery 워커가 작업을 안 가져가요.",
    "semi;colon",
    "'single'",
]


def test_csv_line_matches_csv_writer_on_tricky_text():
    for text in TRICKY_TEXT:
        assert csv_line(["a", text, "b"]) == _csv_writer_line(["a", text, "b"]), text


def test_csv_line_quotes_a_lone_empty_field_as_csv_writer_does():
    assert csv_line([""]) == _csv_writer_line([""]) == '""\r\n'
    assert csv_line([None]) == '""\r\n'


def test_csv_line_writes_numbers_none_and_nested_values():
    line = csv_line([None, 120, 0.83, 1e-07, True, ["a", "b"], {"x": 1}, []])

    assert line == ',120,0.83,1e-07,true,"[""a"",""b""]","{""x"":1}",[]\r\n'
    assert next(csv.reader(io.StringIO(line))) == [
        "",
        "120",
        "0.83",
        "1e-07",
        "true",
        '["a","b"]',
        '{"x":1}',
        "[]",
    ]


@given(st.lists(st.one_of(st.text(), st.integers(), st.floats(allow_nan=False)), min_size=1))
def test_csv_line_matches_csv_writer_on_any_text_and_numbers(values):
    assert csv_line(values) == _csv_writer_line(values)


def _raw_row(**overrides):
    row = {
        "conversation_id": "c1",
        "message_id": "m3",
        "created_at": "2026-11-25T10:00:00+00:00",
        "tags": ["beta"],
        "end_user": "u-42",
        "history": [{"role": "user", "content": "Celery 워커가 안 돌아요"}],
        "answer": 'Say "hi"\nthen go.',
        "contexts": [
            {"id": "doc-1", "title": None, "url": None, "text": "Broker.", "score": 0.9},
            {"id": None, "title": "T", "url": "https://x", "text": "", "score": None},
        ],
        "model": "gpt-4o-mini",
        "prompt_name": "devot-rag",
        "prompt_version": "3",
        "latency_ms": 120,
        "feedback": {
            "up": 1,
            "down": 0,
            "reasons": [{"reason": "incorrect", "count": 2}],
            "comments": ["고마워요"],
        },
        "votes": [
            {
                "user": "u-1",
                "rating": "up",
                "reasons": [],
                "comment": "",
                "source": "api",
                "created_at": "2026-11-25T10:00:00+00:00",
            }
        ],
        "annotations": [
            {
                "annotator": "alice",
                "source": "human",
                "rubric_version": 2,
                "answers": {"correctness": 5, "errors": ["tone"], "note": "é"},
                "corrected_answer": "",
                "created_at": "2026-11-25T10:00:00+00:00",
                "updated_at": "2026-11-25T10:00:00+00:00",
            }
        ],
        "consensus": {"correctness": 4.5, "errors": []},
        "agreement": 0.75,
        "gold_label": None,
        "corrected_answer": "",
    }
    row.update(overrides)
    return row


def _written_table(tmp_path, rows, kind="raw"):
    path = tmp_path / f"{kind}.parquet"
    schema = schema_for(kind, RowOptions())
    writer = ParquetWriter(path, schema.names, schema)
    writer.write(rows)
    writer.commit()
    return pq.read_table(path)


def test_parquet_batches_hold_the_values_pyarrow_would_build_from_python(tmp_path):
    rows = [
        _raw_row(),
        _raw_row(
            message_id="m5",
            tags=[],
            history=[],
            contexts=[],
            latency_ms=None,
            votes=[],
            annotations=[],
            consensus={},
            agreement=None,
        ),
    ]
    schema = schema_for("raw", RowOptions())

    table = _written_table(tmp_path, rows)

    expected = pa.Table.from_pylist(
        [
            {
                **row,
                "annotations": [
                    {
                        **label,
                        "answers": json.dumps(
                            label["answers"], ensure_ascii=False, separators=(",", ":")
                        ),
                    }
                    for label in row["annotations"]
                ],
                "consensus": json.dumps(
                    row["consensus"], ensure_ascii=False, separators=(",", ":")
                ),
            }
            for row in rows
        ],
        schema=schema,
    )
    assert table.schema.names == schema.names
    assert table.to_pylist() == expected.to_pylist()
    assert table.schema.field("consensus").metadata == JSON


def test_parquet_dictionaries_and_statistics_go_to_the_columns_that_use_them(tmp_path):
    _written_table(tmp_path, [_raw_row(), _raw_row(message_id="m5", model="other")])
    metadata = pq.ParquetFile(tmp_path / "raw.parquet").metadata.row_group(0)
    chunks = {
        metadata.column(index).path_in_schema: metadata.column(index)
        for index in range(metadata.num_columns)
    }

    def dictionary(path):
        return "PLAIN_DICTIONARY" in chunks[path].encodings or "RLE_DICTIONARY" in (
            chunks[path].encodings
        )

    # Few distinct values: models, roles, sources.
    assert dictionary("model")
    assert dictionary("history.list.element.role")
    assert dictionary("votes.list.element.source")
    # Texts and ids: plain.
    assert not dictionary("answer")
    assert not dictionary("message_id")
    assert not dictionary("history.list.element.content")
    # Statistics for top-level columns only.
    assert chunks["model"].statistics.min == "gpt-4o-mini"
    assert chunks["model"].statistics.max == "other"
    assert chunks["history.list.element.content"].statistics is None


def test_parquet_takes_a_row_larger_than_the_json_reader_block(tmp_path):
    long_answer = "긴 답변 " * 400_000

    table = _written_table(tmp_path, [_raw_row(answer=long_answer), _raw_row()])

    assert table.column("answer").to_pylist() == [long_answer, 'Say "hi"\nthen go.']


def test_the_export_code_loads_pyarrow_only_for_parquet_and_cards():
    """pyarrow costs a process about 40 MB; JSON Lines and CSV exports do without."""
    code = (
        "import sys, django; django.setup(); "
        "import exports.services.dataset, exports.services.jobs, exports.tasks, "
        "exports.management.commands.export_dataset, exports.views, exports.api.views; "
        "print('pyarrow' in sys.modules); "
        "import exports.parquet; print('pyarrow' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "feedback_site.settings"},
        capture_output=True,
        text=True,
        check=True,
    )

    assert result.stdout.split() == ["False", "True"]
