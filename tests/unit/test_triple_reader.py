from __future__ import annotations

from pathlib import Path

import pytest

from mmkg.errors import IngestError
from mmkg.platform.readers.lines import Reject
from mmkg.platform.readers.triples import read_triples


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _split(items: list[object]) -> tuple[list[object], list[Reject]]:
    good = [i for i in items if not isinstance(i, Reject)]
    bad = [i for i in items if isinstance(i, Reject)]
    return good, bad


def test_tsv_good_and_malformed_lines_are_reported_with_file_and_line(tmp_path: Path) -> None:
    data = (
        b"a\tr\tb\n"
        b"\n"  # blank: skipped, not rejected
        b"a\tr\n"  # 2 fields
        b"\tr\tb\n"  # empty head
        b"a\tr\tb\xff\xfe\n"  # bad UTF-8
        b"a\tr\t" + b"x" * 50 + b"\n"  # too long for limit 20
        b"a\tr\tb\x01\n"  # control character
        b"a\tr\tb\tc\n"  # 4 fields
        b"  c \tr2\t d\r\n"  # spaces stripped, CRLF
    )
    path = _write(tmp_path, "t.tsv", data)
    good, bad = _split(list(read_triples(path, max_field_chars=20)))
    assert good == [("a", "r", "b"), ("c", "r2", "d")]
    reasons = {r.line: r.reason for r in bad}
    assert set(reasons) == {3, 4, 5, 6, 7, 8}
    assert "expected 3 fields, found 2" in reasons[3]
    assert reasons[4] == "empty head id"
    assert reasons[5].startswith("bad encoding")
    assert "too long" in reasons[6]
    assert "control character" in reasons[7]
    assert "found 4" in reasons[8]
    assert all(r.source == str(path) for r in bad)
    assert str(bad[0]) == f"{path}:3: expected 3 fields, found 2"


def test_header_line_and_bom_are_skipped(tmp_path: Path) -> None:
    path = _write(tmp_path, "t.tsv", "\ufeffhead\trelation\ttail\nx\ty\tz\n".encode())
    assert list(read_triples(path)) == [("x", "y", "z")]


def test_htr_order(tmp_path: Path) -> None:
    path = _write(tmp_path, "t.tsv", b"n1\tn2\t_hypernym\n")
    assert list(read_triples(path, order="htr")) == [("n1", "_hypernym", "n2")]


def test_csv_with_quotes(tmp_path: Path) -> None:
    path = _write(tmp_path, "t.csv", b'head,relation,tail\n"Paris, France",capital_of,France\n')
    assert list(read_triples(path, fmt="csv")) == [("Paris, France", "capital_of", "France")]


def test_jsonl_objects_and_arrays(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "t.jsonl",
        b'{"head": "a", "relation": "r", "tail": "b"}\n'
        b'["c", "r", "d"]\n'
        b'{"h": "e", "r": "r", "t": "f"}\n'
        b'{"head": "a", "tail": "b"}\n'
        b"{not json\n",
    )
    good, bad = _split(list(read_triples(path, fmt="jsonl")))
    assert good == [("a", "r", "b"), ("c", "r", "d"), ("e", "r", "f")]
    assert [r.line for r in bad] == [4, 5]
    assert "relation" in bad[0].reason
    assert "malformed JSON" in bad[1].reason


def test_unknown_format_and_order_are_errors(tmp_path: Path) -> None:
    path = _write(tmp_path, "t.tsv", b"a\tb\tc\n")
    with pytest.raises(IngestError, match="format"):
        list(read_triples(path, fmt="xml"))  # type: ignore[arg-type]
    with pytest.raises(IngestError, match="order"):
        list(read_triples(path, order="rht"))  # type: ignore[arg-type]


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="cannot read"):
        list(read_triples(tmp_path / "nope.tsv"))
