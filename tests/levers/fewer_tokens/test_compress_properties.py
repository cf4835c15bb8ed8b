"""Compression properties, checked by hypothesis on generated prompts: protected spans
(code, numbers, IDs, URLs, quoted text) come out verbatim and in order, every transform
is idempotent, and nothing gets longer."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thrifty.config import CompressSettings
from thrifty.levers.fewer_tokens.compress import compress
from thrifty.levers.fewer_tokens.compress.text import minify_json, normalise
from thrifty.levers.fewer_tokens.compress.wire import prompt_tokens
from thrifty.testing import request_for

WORDS = st.sampled_from(["alpha", "beta", "gamma", "the", "rule", "answer", "be", "brief"])
SPACE = st.sampled_from([" ", "  ", "\t", "\n", "\n\n", "\n\n\n\n", " \n", "\u00a0", "\u200b "])
NAME = st.text(alphabet="abcdefghij", min_size=1, max_size=6)
INNER = st.text(alphabet="ab  \t.,", min_size=1, max_size=12).filter(lambda s: s.strip() != "")
PROTECTED = st.one_of(
    st.builds(lambda n, k: f"https://example.com/{n}/{k}?q={k}", NAME, st.integers(0, 999)),
    st.builds(str, st.integers(-(10**6), 10**6)),
    st.builds(lambda x: f"{x:.3f}", st.floats(-1e6, 1e6, allow_nan=False)),
    st.builds(lambda n, k: f"INV-{k}-{n}", NAME, st.integers(0, 99999)),
    st.builds(lambda s: f'"{s}"', INNER.filter(lambda s: '"' not in s)),
    st.builds(lambda s: f"`{s}`", INNER),
    st.builds(lambda s, t: f"\n```py\n{s}\n\n\n  {t}  \n```\n", INNER, INNER),
)


@st.composite
def prompts(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A text of prose and protected chunks (each set off by spaces), and the chunks."""
    pieces: list[str] = []
    kept: list[str] = []
    for _ in range(draw(st.integers(1, 12))):
        if draw(st.booleans()):
            chunk = draw(PROTECTED)
            kept.append(chunk.strip("\n"))
            pieces.append(f" {chunk} ")
        else:
            pieces.append(draw(WORDS) + draw(SPACE))
    return "".join(pieces), kept


def in_order(text: str, chunks: list[str]) -> bool:
    at = 0
    for chunk in chunks:
        found = text.find(chunk, at)
        if found < 0:
            return False
        at = found + len(chunk)
    return True


# The machine is shared: generation and runs may be slow, never flaky.
RELAXED = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@RELAXED
@given(prompts())
def test_normalising_keeps_protected_spans_verbatim_and_in_order(
    prompt: tuple[str, list[str]],
) -> None:
    text, chunks = prompt
    out = normalise(text)
    assert in_order(out, chunks), (text, out)
    assert normalise(out) == out  # idempotent
    assert len(out) <= len(text)


JSON_VALUES = st.recursive(
    st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False), INNER, NAME),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(NAME, inner, max_size=4),
    max_leaves=12,
)


@RELAXED
@given(JSON_VALUES, st.sampled_from([None, 1, 2, 4]))
def test_minified_json_keeps_every_string_and_number(value: object, indent: int | None) -> None:
    import json

    text = "Data follows.\n\n" + json.dumps({"v": value}, indent=indent) + "\n\nThe end."
    out = minify_json(text)
    assert json.loads(out.split("\n\n")[1]) == {"v": value}
    tokens = [t for t in json.dumps({"v": value}, indent=indent).split() if t.strip()]
    # every string and number token, as written, is still there
    for token in tokens:
        assert token.strip(",:[]{}") in out
    assert minify_json(out) == out
    assert len(out) <= len(text)


def request_of(system: str, user: str, dialect: str) -> object:
    if dialect == "anthropic":
        return request_for("claude-haiku-4-5", user, dialect="anthropic", system=system)
    request = request_for("gpt-4o", user)
    request.body["messages"].insert(0, {"role": "system", "content": system})
    return request


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prompts(), prompts(), st.sampled_from(["openai", "anthropic"]))
def test_compressing_a_request_is_idempotent_and_never_longer(
    system: tuple[str, list[str]], user: tuple[str, list[str]], dialect: str
) -> None:
    if not system[0].strip() or not user[0].strip():
        return  # an empty message is malformed: covered by its own test
    request = request_of(system[0], user[0], dialect)
    options = CompressSettings(enabled=True, min_tokens=0)
    once, explanation = compress(request, options)  # type: ignore[arg-type]
    twice, again = compress(once, options)
    assert twice.body == once.body
    assert not again.removals
    assert prompt_tokens(once.body) <= prompt_tokens(request.body)  # type: ignore[attr-defined]
    assert explanation.tokens_saved >= 0
    # protected spans are never altered: each one of the output is one of the input
    before = system[1] + user[1]
    texts = [m.get("content") for m in once.body["messages"]] + [once.body.get("system")]
    joined = "\n".join(t for t in texts if isinstance(t, str))
    assert all(chunk in joined for chunk in before if chunk in system[0] + user[0])
