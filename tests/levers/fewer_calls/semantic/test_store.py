"""The store and its index files: persisted, reloaded, rebuilt when damaged; a damaged
entry or index never serves a wrong answer."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import orjson
import pytest

from thrifty.levers.fewer_calls.semantic.calibration import Tally
from thrifty.levers.fewer_calls.semantic.index import PartitionIndex
from thrifty.levers.fewer_calls.semantic.store import SemanticStore
from thrifty.types import Usage

from .conftest import WordsEmbedder

USAGE = Usage(input_tokens=100, output_tokens=20)
BODY = orjson.dumps({"choices": [{"message": {"content": "Paris"}}]})


def open_store(path: Path) -> SemanticStore:
    return SemanticStore(path, model_id="test-words", dimensions=2048)


def fill(
    store: SemanticStore, words: WordsEmbedder, texts: list[str], partition: str = "p"
) -> None:
    for text in texts:
        store.add(
            partition,
            text,
            words.embed([text])[0],
            dialect="openai",
            model="gpt-4o",
            body=BODY,
            usage=USAGE,
        )


TEXTS = ["capital of france", "tallest mountain on earth", "speed of light", "boiling point"]


def nearest_query(store: SemanticStore, words: WordsEmbedder, text: str, partition: str = "p"):  # type: ignore[no-untyped-def]
    return store.nearest(partition, words.embed([text])[0])


def test_entries_and_indexes_survive_a_restart(tmp_path: Path, words: WordsEmbedder) -> None:
    path = tmp_path / "s.db"
    store = open_store(path)
    fill(store, words, TEXTS)
    store.close()
    index_file = path.with_name("s.db.index") / "p.usearch"
    assert index_file.exists()
    again = open_store(path)
    (best, similarity), *_ = nearest_query(again, words, "capital of france")
    assert best.query == "capital of france" and similarity == pytest.approx(1.0, abs=1e-5)
    assert best.usage == USAGE and best.body == orjson.loads(BODY) and best.dialect == "openai"
    assert again.count() == 4
    again.close()


def test_a_loaded_index_must_match_the_store(tmp_path: Path, words: WordsEmbedder) -> None:
    path = tmp_path / "s.db"
    store = open_store(path)
    fill(store, words, TEXTS)
    store.close()
    index_file = path.with_name("s.db.index") / "p.usearch"
    assert PartitionIndex.load(index_file, 2048, 4, 4) is not None
    assert PartitionIndex.load(index_file, 2048, 5, 5) is None  # an entry more in the store
    assert PartitionIndex.load(index_file, 2048, 4, 7) is None  # other keys
    assert PartitionIndex.load(index_file, 32, 4, 4) is None  # other dimensions
    assert PartitionIndex.load(tmp_path / "none.usearch", 2048, 0, 0) is None


@pytest.mark.parametrize("damage", [b"", b"garbage" * 100, b"\x00" * 4096])
def test_a_damaged_index_file_is_rebuilt(
    tmp_path: Path, words: WordsEmbedder, damage: bytes
) -> None:
    path = tmp_path / "s.db"
    store = open_store(path)
    fill(store, words, TEXTS)
    store.close()
    (path.with_name("s.db.index") / "p.usearch").write_bytes(damage)
    again = open_store(path)
    (best, similarity), *_ = nearest_query(again, words, "speed of light")
    assert best.query == "speed of light" and similarity == pytest.approx(1.0, abs=1e-5)
    again.close()


def test_a_stale_index_never_returns_another_partitions_entry(
    tmp_path: Path, words: WordsEmbedder
) -> None:
    path = tmp_path / "s.db"
    store = open_store(path)
    fill(store, words, TEXTS[:2], partition="tenant-a")
    fill(store, words, TEXTS[2:], partition="tenant-b")
    store.close()
    index_dir = path.with_name("s.db.index")
    # tenant-b's index file copied over tenant-a's (same count, wrong keys): not trusted.
    (index_dir / "tenant-a.usearch").write_bytes((index_dir / "tenant-b.usearch").read_bytes())
    again = open_store(path)
    found = nearest_query(again, words, "speed of light", partition="tenant-a")
    assert {entry.partition for entry, _ in found} == {"tenant-a"}
    assert "speed of light" not in {entry.query for entry, _ in found}
    again.close()


def test_an_unreadable_entry_is_a_miss(tmp_path: Path, words: WordsEmbedder) -> None:
    path = tmp_path / "s.db"
    store = open_store(path)
    fill(store, words, TEXTS)
    with sqlite3.connect(path) as db:
        db.execute("UPDATE entries SET body = x'7b7b' WHERE query = 'capital of france'")
        db.execute("UPDATE entries SET usage = 'nope' WHERE query = 'speed of light'")
    found = nearest_query(store, words, "capital of france")
    assert "capital of france" not in {entry.query for entry, _ in found}
    assert "speed of light" not in {
        e.query for e, _ in nearest_query(store, words, "speed of light")
    }
    store.close()


def test_entries_of_another_model_are_dropped(tmp_path: Path, words: WordsEmbedder) -> None:
    path = tmp_path / "s.db"
    store = open_store(path)
    fill(store, words, TEXTS)
    store.close()
    other = SemanticStore(path, model_id="another-model", dimensions=2048)
    assert other.count() == 0
    other.close()


def test_expired_entries_are_left_out(store: SemanticStore, words: WordsEmbedder) -> None:
    fill(store, words, TEXTS[:1])
    vector = words.embed(["capital of france"])[0]
    assert store.nearest("p", vector, newer_than=0.0)
    assert store.nearest("p", vector, newer_than=2e9) == []


def test_exploration_outcomes_are_kept(tmp_path: Path, words: WordsEmbedder) -> None:
    path = tmp_path / "s.db"
    store = open_store(path)
    fill(store, words, TEXTS[:1])
    ((entry, _),) = nearest_query(store, words, "capital of france")
    store.record(entry, 0.91, agreed=True)
    store.record(entry, 0.88, agreed=True)
    store.record(entry, 0.93, agreed=False)
    store.close()
    again = open_store(path)
    ((entry, _),) = nearest_query(again, words, "capital of france")
    assert (entry.agreed, entry.wrong) == (2, 1)
    assert entry.lowest_agreed == pytest.approx(0.88) and entry.highest_wrong == pytest.approx(0.93)
    assert np.isclose(np.linalg.norm(entry.vector), 1.0)
    again.close()


def test_exploration_tallies_are_kept_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = open_store(path)
    assert store.tallies() == {}
    store.save_tally("faq", Tally(explored=40, wrong=3))
    store.save_tally("", Tally(explored=2, wrong=0))
    store.save_tally("faq", Tally(explored=41, wrong=3))  # replaces, one row a task
    store.close()
    again = open_store(path)
    assert again.tallies() == {"faq": Tally(41, 3), "": Tally(2, 0)}
    again.close()
    with sqlite3.connect(path) as db:  # impossible tallies: more wrong than explored, negative
        db.execute("INSERT OR REPLACE INTO tallies VALUES ('faq', 2, 5)")
        db.execute("INSERT OR REPLACE INTO tallies VALUES ('chat', -1, 0)")
        db.execute("INSERT OR REPLACE INTO tallies VALUES ('text', 'x', 0)")
    damaged = open_store(path)
    assert damaged.tallies() == {"": Tally(2, 0)}  # the others start again from nothing
    damaged.close()
    other = SemanticStore(path, model_id="another-model", dimensions=2048)
    assert other.tallies() == {}  # they measured the other model
    other.close()


def test_the_index_loads_onnxruntime_before_usearch() -> None:
    """onnxruntime imported after usearch crashes the process (a segmentation fault)."""
    import subprocess
    import sys

    code = (
        "from thrifty.levers.fewer_calls.semantic.index import PartitionIndex\n"
        "PartitionIndex(4)\n"
        "import onnxruntime\n"
        "print('alive')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == b"alive", done.stderr[-500:]
