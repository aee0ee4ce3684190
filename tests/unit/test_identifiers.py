from __future__ import annotations

import random

import pytest

from mmkg.errors import SchemaError
from mmkg.graph_schema import assign_relation_types, quote_identifier, validate_identifier
from mmkg.graph_schema.identifiers import IDENTIFIER_RE

INJECTIONS = [
    "X]->() DETACH DELETE n //",
    "A`]->(b) MATCH (n) DETACH DELETE n //",
    "NAME` ",
    "a b",
    "",
    "1ABC",
    "É",
    "x" * 65,
    "A;B",
    "A\nB",
]


@pytest.mark.parametrize("bad", INJECTIONS)
def test_validate_identifier_rejects_anything_outside_the_whitelist(bad: str) -> None:
    with pytest.raises(SchemaError, match="invalid"):
        validate_identifier(bad)
    with pytest.raises(SchemaError):
        quote_identifier(bad)


def test_validate_identifier_accepts_plain_names() -> None:
    assert validate_identifier("NATIONALITY") == "NATIONALITY"
    assert quote_identifier("_x1") == "`_x1`"


def test_freebase_and_wordnet_names_map_to_short_readable_types() -> None:
    got = assign_relation_types(
        ["/people/person/nationality", "_hypernym", "_derivationally_related_form"]
    )
    assert got == {
        "/people/person/nationality": "NATIONALITY",
        "_hypernym": "HYPERNYM",
        "_derivationally_related_form": "DERIVATIONALLY_RELATED_FORM",
    }


def test_colliding_names_both_get_longer_distinct_types() -> None:
    got = assign_relation_types(["/film/film/country", "/location/location/country"])
    assert got == {
        "/film/film/country": "FILM_COUNTRY",
        "/location/location/country": "LOCATION_COUNTRY",
    }


def test_names_equal_after_normalisation_still_get_distinct_types() -> None:
    raw = ["a-b", "a_b", "A B", "a.b", "a/b", "aB"]
    got = assign_relation_types(raw)
    assert len(set(got.values())) == len(raw)
    assert all(IDENTIFIER_RE.fullmatch(t) for t in got.values())


def test_mapping_does_not_depend_on_arrival_order() -> None:
    raw = ["/a/x", "/b/x", "/c/y", "_x", "x", "X", "/d/e/x"]
    expected = assign_relation_types(raw)
    for seed in range(5):
        shuffled = raw[:]
        random.Random(seed).shuffle(shuffled)
        assert assign_relation_types(shuffled) == expected


def test_unicode_leading_digits_reserved_and_long_names() -> None:
    raw = ["géographie", "国籍", "3d_model", "depicts", "mentions", "/x/" + "y" * 200, "bornIn"]
    got = assign_relation_types(raw)
    assert got["géographie"] == "GEOGRAPHIE"
    assert got["国籍"].startswith("REL_")
    assert got["3d_model"] == "R_3D_MODEL"
    assert got["depicts"] not in ("DEPICTS", "MENTIONS")
    assert got["mentions"] not in ("DEPICTS", "MENTIONS")
    assert got["bornIn"] == "BORN_IN"
    assert all(IDENTIFIER_RE.fullmatch(t) for t in got.values())
    assert len(set(got.values())) == len(raw)


def test_injection_attempts_become_harmless_types() -> None:
    got = assign_relation_types([*INJECTIONS[:4], "`]->() DETACH DELETE n"])
    for raw, rel_type in got.items():
        assert IDENTIFIER_RE.fullmatch(rel_type), (raw, rel_type)
        assert "`" not in rel_type


def test_taken_types_are_never_reused() -> None:
    got = assign_relation_types(["/x/nationality"], taken={"NATIONALITY"})
    assert got == {"/x/nationality": "X_NATIONALITY"}
    got = assign_relation_types(["nationality"], taken={"NATIONALITY"})
    assert got["nationality"] != "NATIONALITY"
    assert got["nationality"].startswith("NATIONALITY_")


def test_empty_relation_name_is_an_error() -> None:
    with pytest.raises(SchemaError, match="empty"):
        assign_relation_types([""])
