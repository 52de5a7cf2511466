"""How an import file is read: one JSON document, or JSON lines streamed line by line."""

from __future__ import annotations

from pathlib import Path

import pytest

from plugin.importers.reading import Document, Line, Lines, UnusableFile, open_json

PRETTY = '{\n  "issues": [\n    {"key": "PAY-1"}\n  ]\n}\n'


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('[{"a": 1}, {"a": 2}]\n', Document([{"a": 1}, {"a": 2}])),
        (PRETTY, Document({"issues": [{"key": "PAY-1"}]})),
        ('\ufeff\n\n{"a": 1}\n\n', Document({"a": 1})),
        ('{"a": 1}\n\n{"a": 2}\n', [Line(1, {"a": 1}), Line(3, {"a": 2})]),
        (
            '{"a": \n{"a": 2}\n',
            [Line(1, error="not JSON: Expecting value (column 7)"), Line(2, {"a": 2})],
        ),
        (
            '{"a": 1}\n{"a": NaN}\n',
            [Line(1, {"a": 1}), Line(2, error="not JSON: NaN is not allowed in JSON")],
        ),
    ],
    ids=[
        "one-line-array",
        "pretty-document",
        "bom-and-blank-lines",
        "json-lines",
        "bad-first-line",
        "nan",
    ],
)
def test_documents_and_json_lines(tmp_path: Path, content: str, expected: object) -> None:
    path = tmp_path / "in.json"
    path.write_text(content, encoding="utf-8")
    found = open_json(path, "in.json")
    if isinstance(expected, Document):
        assert found == expected
    else:
        assert isinstance(found, Lines)
        assert list(found) == expected
        assert list(found) == expected  # read again from the start


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "in.json: empty file: nothing to import"),
        (b"  \n\n", "in.json: empty file: nothing to import"),
        (b"not json\n", "in.json:1:1: not JSON: Expecting value"),
        (b'[\n  {"a": 1}\n', "in.json:3:1: not JSON: Expecting ',' delimiter"),
        (b'{"a": \n', "in.json:2:1: not JSON: Expecting value"),
        (PRETTY.replace("]", "").encode(), "in.json:5:1: not JSON: Expecting ',' delimiter"),
        (b'{"a": "\xff"}', "in.json: not JSON: not UTF-8 text"),
    ],
    ids=["empty", "blank", "text", "unclosed-array", "one-bad-line", "broken-document", "not-utf8"],
)
def test_unusable_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "in.json"
    path.write_bytes(content)
    with pytest.raises(UnusableFile) as raised:
        open_json(path, "in.json")
    assert str(raised.value) == message
    assert raised.value.exit_code == 2
