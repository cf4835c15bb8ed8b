"""OpenAI's BPE encodings, loaded offline from the files the ``bpe-openai`` package bundles.

tiktoken alone downloads its encoding files on first use, which fails on a machine with no
route to OpenAI's blob storage.  ``bpe-openai`` ships ``cl100k_base`` and ``o200k_base``
(gzipped) in its ``data/`` folder; this module reads them *without importing that package*
(its Rust extension is not needed), checks each file against the SHA-256 tiktoken itself
pins for the download, and builds a :class:`tiktoken.Encoding` with tiktoken's own
constructor, with the split pattern and special tokens tiktoken uses for that encoding.
The counts are therefore tiktoken's, exactly.

Loading an encoding takes one to three seconds and about 100 MB; callers keep the result
(:class:`thrifty.tokens.TokenCounter` loads each encoding once, on first use).

Counting does not need token ids: :mod:`thrifty.tokens.counting` has the faster
counters, built from the same checked files.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from thrifty.errors import ConfigError

if TYPE_CHECKING:
    import tiktoken

EncodingName = Literal["o200k_base", "cl100k_base"]
CountTokens = Callable[[str], int]  # a text's token count in one encoding
ENCODINGS: tuple[EncodingName, ...] = ("o200k_base", "cl100k_base")
INSTALL_HINT = "pip install 'thrifty[tokens]'"

_ENDOFTEXT = "<|endoftext|>"
_ENDOFPROMPT = "<|endofprompt|>"


@dataclass(frozen=True, slots=True)
class EncodingSpec:
    """What tiktoken's ``tiktoken_ext.openai_public`` says about one encoding."""

    pat_str: str
    special_tokens: dict[str, int]
    sha256: str  # of the uncompressed ``.tiktoken`` file, as tiktoken pins it


SPECS: dict[EncodingName, EncodingSpec] = {
    "cl100k_base": EncodingSpec(
        pat_str=(
            r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++"""
            r"""[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
        ),
        special_tokens={
            _ENDOFTEXT: 100257,
            "<|fim_prefix|>": 100258,
            "<|fim_middle|>": 100259,
            "<|fim_suffix|>": 100260,
            _ENDOFPROMPT: 100276,
        },
        sha256="223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
    "o200k_base": EncodingSpec(
        pat_str="|".join(
            [
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+"""
                r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*"""
                r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""\p{N}{1,3}""",
                r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
                r"""\s*[\r\n]+""",
                r"""\s+(?!\S)""",
                r"""\s+""",
            ]
        ),
        special_tokens={_ENDOFTEXT: 199999, _ENDOFPROMPT: 200018},
        sha256="446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
}


def bundled_file(name: EncodingName) -> Path:
    """The gzipped ranks file ``bpe-openai`` ships for ``name`` (found without importing the
    package).  :class:`~thrifty.errors.ConfigError` when it is not installed."""
    for folder in package_folders():
        path = folder / "data" / f"{name}.tiktoken.gz"
        if path.is_file():
            return path
    raise ConfigError(
        f"the {name} encoding file is not installed (it comes with the bpe-openai "
        f"package): {INSTALL_HINT}"
    )


def package_folders() -> list[Path]:
    """Where the ``bpe_openai`` package's files are, found without importing it (none
    when it is not installed)."""
    spec = importlib.util.find_spec("bpe_openai")
    return [Path(p) for p in spec.submodule_search_locations or ()] if spec is not None else []


def parse_ranks(raw: bytes, expected_sha256: str) -> dict[bytes, int]:
    """A ``.tiktoken`` file (``base64-token rank`` per line) as tiktoken's mergeable ranks;
    :class:`~thrifty.errors.ConfigError` when its SHA-256 is not the pinned one."""
    _check_sha256(raw, expected_sha256)
    ranks: dict[bytes, int] = {}
    for line in raw.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def load_encoding(name: EncodingName) -> tiktoken.Encoding:
    """The tiktoken encoding ``name``, built from the bundled, checked ranks (no network)."""
    try:
        import tiktoken
    except ImportError:  # pragma: no cover - depends on the environment
        raise ConfigError(f"exact token counts need tiktoken: {INSTALL_HINT}") from None
    spec = SPECS[name]
    return tiktoken.Encoding(
        name,
        pat_str=spec.pat_str,
        mergeable_ranks=parse_ranks(_bundled_bytes(name), spec.sha256),
        special_tokens=dict(spec.special_tokens),
    )


def checked_ranks_file(name: EncodingName) -> bytes:
    """The uncompressed ``.tiktoken`` file of ``name`` that ``bpe-openai`` bundles, its
    SHA-256 checked against the one tiktoken pins (:class:`~thrifty.errors.ConfigError`
    when it differs or the file is not installed)."""
    raw = _bundled_bytes(name)
    _check_sha256(raw, SPECS[name].sha256)
    return raw


def _bundled_bytes(name: EncodingName) -> bytes:
    with gzip.open(bundled_file(name), "rb") as handle:
        return handle.read()


def _check_sha256(raw: bytes, expected: str) -> None:
    digest = hashlib.sha256(raw).hexdigest()
    if digest != expected:
        raise ConfigError(
            f"encoding file has SHA-256 {digest}, expected {expected}: "
            "the installed bpe-openai data is not the encoding tiktoken pins"
        )
