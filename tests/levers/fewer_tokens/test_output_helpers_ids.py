"""``reference_ids`` never hands out an ID that is already one of the schema's values (an
enum of ``["R1", <a sentence>]`` became ``["R1", "R1"]``: an invalid enum, and an answer
that could not be decoded); the helpers refuse a document that is not an object."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thrifty.output import enum_field, reference_ids

SENTENCE = "Refund the customer in full and close the ticket"


def test_an_id_already_in_the_schema_is_skipped() -> None:
    schema = {
        "type": "object",
        "properties": {
            "action": {"enum": ["R1", SENTENCE, "R3"]},
            "fixed": {"const": "R2"},
        },
    }
    out, legend = reference_ids(schema)
    assert out["properties"]["action"]["enum"] == ["R1", "R4", "R3"]
    assert legend.entries == {"R4": SENTENCE}
    assert legend.decode({"action": "R1", "other": "R4"}) == {"action": "R1", "other": SENTENCE}


@pytest.mark.parametrize("document", [[{"enum": [SENTENCE]}], "schema", 5, None])
def test_a_document_that_is_not_an_object_is_a_type_error(document: Any) -> None:
    with pytest.raises(TypeError, match="expected a schema, a tool or a response_format"):
        reference_ids(document)
    with pytest.raises(TypeError, match="expected a schema, a tool or a response_format"):
        enum_field(document, "a", ["x"])


SHORT = st.one_of(st.sampled_from(["R1", "R2", "R3", "R10", "X1", "ask"]), st.text(max_size=4))
LONG = st.sampled_from([SENTENCE, "Escalate to the on-call engineer with the logs", "y" * 30])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.one_of(SHORT, LONG), min_size=1, max_size=6, unique=True), max_size=4))
def test_every_enum_stays_distinct_and_decodes_back(enums: list[list[str]]) -> None:
    schema = {
        "type": "object",
        "properties": {f"f{i}": {"type": "string", "enum": e} for i, e in enumerate(enums)},
    }
    out, legend = reference_ids(schema)
    for i, before in enumerate(enums):
        after = out["properties"][f"f{i}"]["enum"]
        assert len(set(after)) == len(after)  # still a valid enum
        assert [legend.decode(v) for v in after] == before  # each value means what it did
