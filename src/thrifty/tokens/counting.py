"""Exact token counts without token ids: the fastest counter that loads.

Every counter here gives tiktoken's ``encode_ordinary`` count (special-token text counted
as text), built from the checked ranks files of :mod:`thrifty.tokens.encodings`:

1. ``fastokens`` (Rust, a PCRE2-JIT pre-tokenizer): about 0.09 us a token on prose, 4-5x
   less CPU than the next one (bench/token_counters.py); loading an encoding takes ~2.5 s
   and ~150 MB.
2. ``bpe-openai``'s own tokenizer, its extension module loaded alone (importing the
   package would first read every encoding into Python dictionaries): 0.25 s to load.
3. tiktoken's encoder, the reference.

``tests/tokens/test_fast_count.py`` checks the first two against tiktoken, to the token,
on random texts built around every pre-tokenizer rule, on any text, and on the corpus of
docs/levers/fewer-tokens.md.  Lone surrogates, which the Rust counters refuse, are
replaced first, as tiktoken replaces them.
"""

from __future__ import annotations

import functools
import importlib.machinery
import importlib.util
import os
import sys
import tempfile
import threading
from typing import TYPE_CHECKING, Any

from thrifty.tokens.encodings import (
    SPECS,
    CountTokens,
    EncodingName,
    checked_ranks_file,
    load_encoding,
    package_folders,
)

if TYPE_CHECKING:
    import tiktoken

# Warms a counter at load (a PCRE2-JIT pattern compiles on its first match): every rule of
# the pre-tokenizers once.
_WARM_UP = "Hello, World's 12345 文字 --> x/y\n\n  \t ok?!\r\n"


_LOAD_LOCK = threading.Lock()  # two threads asking at once load an encoding once


def load_count(name: EncodingName) -> CountTokens:
    """The fastest exact counter for encoding ``name`` that loads here: fastokens, else
    bpe-openai's tokenizer, else tiktoken (the order of the module docs).

    Loaded once per process, on purpose (the one cache of this package): a fastokens
    tokenizer takes ~2.5 s and ~150 MB to load, and fastokens keeps its fastest cache
    per thread for one tokenizer at a time, so two tokenizers of one encoding used in
    turn would each find it cleared.  What is cached holds no request data."""
    with _LOAD_LOCK:
        return _load_count(name)


@functools.cache
def _load_count(name: EncodingName) -> CountTokens:
    for loader in (fastokens_count, bpe_openai_count):
        count = loader(name)
        if count is not None:
            return count
    return tiktoken_count(load_encoding(name))  # pragma: no cover - depends on the install


def quick_load_count(name: EncodingName) -> CountTokens:
    """An exact counter for encoding ``name`` that loads in a fraction of a second
    (bpe-openai's tokenizer, else tiktoken), for a process that counts a few texts and
    exits (``thrifty tokens``): fastokens' load would cost more than it saves there."""
    count = bpe_openai_count(name)
    return count if count is not None else tiktoken_count(load_encoding(name))


def fastokens_count(name: EncodingName) -> CountTokens | None:
    """``fastokens``'s count in encoding ``name``, warmed, or ``None`` when it is not
    installed.

    Its constructor reads a ranks file by path: the checked bytes are written to a private
    temporary file (mode 0600, its own directory), removed once loaded."""
    try:
        from fastokens import Tokenizer  # type: ignore[import-untyped]  # no py.typed
    except ImportError:
        return None
    raw = checked_ranks_file(name)
    with tempfile.TemporaryDirectory(prefix="thrifty-tokens-") as folder:
        path = os.path.join(folder, f"{name}.tiktoken")
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
            out.write(raw)
        tokenizer = Tokenizer.from_tiktoken(
            path, pattern=SPECS[name].pat_str, special_tokens={}, encoding=name
        )
    return _warmed(_surrogate_safe(lambda text: len(tokenizer.encode_ordinary(text))))


def bpe_openai_count(name: EncodingName) -> CountTokens | None:
    """``bpe-openai``'s count in encoding ``name`` (it never builds the ids), warmed, or
    ``None`` when its extension does not load."""
    bindings = _rust_bindings()
    if bindings is None:  # pragma: no cover - depends on the environment
        return None
    count = bindings.tokenizer_for_encoding(name).count
    return _warmed(_surrogate_safe(lambda text: int(count(text))))


def tiktoken_count(encoding: tiktoken.Encoding) -> CountTokens:
    """``encoding``'s count of a text (its ``encode_ordinary``)."""
    encode = encoding.encode_ordinary

    def counted(text: str) -> int:
        return len(encode(text))

    return counted


def _warmed(count: CountTokens) -> CountTokens:
    """``count`` after one call: fastokens compiles its pattern on the first (~0.15 s)."""
    count(_WARM_UP)
    return count


def _surrogate_safe(count: CountTokens) -> CountTokens:
    """``count``, with lone surrogates (which UTF-8 cannot hold) replaced by U+FFFD first,
    as tiktoken does."""

    def counted(text: str) -> int:
        try:
            return count(text)
        except UnicodeEncodeError:
            return count(text.encode("utf-16", "surrogatepass").decode("utf-16", "replace"))

    return counted


_BINDINGS = "bpe_openai._bindings"
_BINDINGS_LOCK = threading.Lock()  # an extension module may be initialised only once


def _rust_bindings() -> Any | None:
    """``bpe-openai``'s extension module, loaded from its file: importing the package
    itself would first read every encoding it knows into Python dictionaries (seconds,
    ~150 MB, and a deprecation warning), none of which counting needs."""
    with _BINDINGS_LOCK:
        loaded = sys.modules.get(_BINDINGS)
        if loaded is not None:
            return loaded
        for folder in package_folders():
            for suffix in importlib.machinery.EXTENSION_SUFFIXES:
                path = folder / f"_bindings{suffix}"
                found = importlib.util.spec_from_file_location(_BINDINGS, path)
                if not path.is_file() or found is None or found.loader is None:
                    continue
                module = importlib.util.module_from_spec(found)
                sys.modules[_BINDINGS] = module
                try:
                    found.loader.exec_module(module)
                except ImportError:  # pragma: no cover - a broken install
                    del sys.modules[_BINDINGS]
                    return None
                return module
        return None
