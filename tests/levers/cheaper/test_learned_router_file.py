"""The router file: what is saved loads again; a damaged or hostile file is refused."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.levers.cheaper.learned_kit import LARGE, SMALL, fitted, saved
from thrifty.levers.cheaper.learned import router_file
from thrifty.levers.cheaper.learned.router_file import (
    RouterFileError,
    load_router,
    parse_router,
    save_router,
)


@pytest.mark.parametrize("features", ["tfidf", "minilm"])
def test_a_saved_router_loads_as_it_was(tmp_path: Path, features: str) -> None:
    router = fitted(features)
    path = tmp_path / "router.json"
    save_router(router, path)
    loaded = load_router(path)
    assert loaded == router
    assert loaded.models == (SMALL, LARGE)
    assert [loaded.models[c] for c in loaded.candidates] == [SMALL, LARGE]
    assert loaded.models[loaded.strongest] == LARGE
    assert set(loaded.thresholds) == {0.8, 0.85, 0.9, 0.95, 0.98, 0.99, 1.0}


def test_the_threshold_of_a_target_is_never_laxer_than_asked() -> None:
    router = fitted()
    thresholds = router.thresholds
    assert router.threshold_for(0.98) == thresholds[0.98]
    assert router.threshold_for(0.96) == thresholds[0.98]  # the next stricter target
    assert router.threshold_for(0.5) == thresholds[0.8]
    assert router.threshold_for(1.0) == thresholds[1.0]


def document() -> dict[str, Any]:
    return fitted().to_json()


def edit(change: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    doc = copy.deepcopy(document())
    change(doc)
    return doc


BAD: list[tuple[str, Callable[[dict[str, Any]], object], str]] = [
    ("format", lambda d: d.update(format="other"), "not a router file"),
    ("version", lambda d: d.update(version=2), "version"),
    ("features", lambda d: d.update(features="bert"), "features"),
    ("one model", lambda d: d.update(models=["only"]), "models"),
    ("twin models", lambda d: d.update(models=["a", "a"]), "models"),
    ("long name", lambda d: d["models"].__setitem__(0, "m" * 300), "models"),
    ("candidate index", lambda d: d.update(candidates=[0, 7]), "candidate"),
    ("candidate twice", lambda d: d.update(candidates=[0, 0]), "distinct"),
    ("bool index", lambda d: d.update(strongest=True), "strongest"),
    ("threshold key", lambda d: d.update(thresholds={"most": 0.5}), "threshold"),
    ("threshold target", lambda d: d.update(thresholds={"1.5": 0.5}), "threshold"),
    ("no thresholds", lambda d: d.update(thresholds={}), "thresholds"),
    ("weights row", lambda d: d["weights"].__setitem__(0, [1.0]), "weights row"),
    ("infinite weight", lambda d: d["weights"].__setitem__(0, [1e999, 0.0]), "finite"),
    ("string weight", lambda d: d["weights"].__setitem__(0, ["1", 0.0]), "finite"),
    ("intercepts", lambda d: d.update(intercepts=[0.0]), "intercepts"),
    ("vocabulary", lambda d: d["tfidf"]["vocabulary"].popitem(), "vocabulary"),
    ("idf", lambda d: d["tfidf"].update(idf=[-1.0] * len(d["weights"])), "idf"),
    ("ngram", lambda d: d["tfidf"].update(ngram_range=[1, 9]), "ngram_range"),
    ("trained_on", lambda d: d.update(trained_on=[]), "trained_on"),
]


@pytest.mark.parametrize(("name", "change", "says"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_field_is_refused_by_name(
    name: str, change: Callable[[dict[str, Any]], object], says: str
) -> None:
    with pytest.raises(RouterFileError, match=says):
        parse_router(edit(change), "router.json")


def test_a_vocabulary_must_use_each_column_once() -> None:
    def twin(d: dict[str, Any]) -> None:
        terms = list(d["tfidf"]["vocabulary"])
        d["tfidf"]["vocabulary"][terms[0]] = d["tfidf"]["vocabulary"][terms[1]]

    with pytest.raises(RouterFileError, match="each column once"):
        parse_router(edit(twin), "r")


def test_a_minilm_router_names_its_embedder() -> None:
    doc = fitted("minilm").to_json()
    doc["embedder"] = ""
    with pytest.raises(RouterFileError, match="embedder"):
        parse_router(doc, "r")


def test_files_that_are_not_routers_are_refused(tmp_path: Path, monkeypatch: Any) -> None:
    missing = tmp_path / "none.json"
    with pytest.raises(RouterFileError, match="cannot read"):
        load_router(missing)
    garbage = tmp_path / "garbage.json"
    garbage.write_bytes(b"{not json")
    with pytest.raises(RouterFileError, match="not JSON"):
        load_router(garbage)
    big = saved(tmp_path / "big.json")
    monkeypatch.setattr(router_file, "MAX_FILE_BYTES", 100)
    with pytest.raises(RouterFileError, match="larger than"):
        load_router(big)


def test_the_file_is_plain_json_with_no_code(tmp_path: Path) -> None:
    path = saved(tmp_path / "router.json")
    document = orjson.loads(path.read_bytes())
    assert document["format"] == "thrifty-learned-router"
    assert set(document) == {
        "format", "version", "features", "models", "candidates", "strongest",
        "thresholds", "weights", "intercepts", "trained_on", "tfidf",
    }  # fmt: skip
