""":class:`TokenCounter`: token counts for a text, a conversation or a request.

Chat framing (OpenAI's cookbook, "How to count tokens with tiktoken", for gpt-3.5-turbo,
gpt-4 and gpt-4o): every message costs 3 tokens besides its values, a ``name`` one more,
and every answer is primed with 3 (``<|start|>assistant<|message|>``).  Function tools are
counted with the cookbook's fitted constants (7 per function, 3 per parameter block and
per parameter, 12 at the end; 10 per function for cl100k models).  The same framing is
used for Claude models (Anthropic publishes none), on top of the approximate text count.

What is counted: text content, a tool call's name and arguments, a tool result's text,
system prompts (OpenAI system/developer messages, Anthropic ``system``).  Images, audio
and documents count 0 (they are billed by size, not by text): a count with them is low.
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from thrifty.tokens.bounds import least_tokens
from thrifty.tokens.counting import load_count, tiktoken_count
from thrifty.tokens.encodings import CountTokens, EncodingName, load_encoding
from thrifty.tokens.models import TokenizerChoice, tokenizer_for
from thrifty.tokens.pieces import chunks

if TYPE_CHECKING:
    import tiktoken

    from thrifty.types import ChatRequest

TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING = 3
_FUNC_INIT = {"o200k_base": 7, "cl100k_base": 10}
_PROP_INIT = 3
_PROP_KEY = 3
_ENUM_INIT = -3
_ENUM_ITEM = 3
_FUNC_END = 12
MEMO_MIN_CHARS = 256  # shorter texts are encoded every time (cheaper than remembering)
CHUNK_MAX_CHARS = 16_000  # < 64 KiB of UTF-8: fastokens counts longer inputs on threads


@dataclass(frozen=True, slots=True)
class TokenCount:
    """A count and how far to trust it: ``exact`` when the model's own tokenizer made it
    (OpenAI models, text only); ``method`` names the tokenizer and any scaling."""

    tokens: int
    exact: bool
    method: str

    def __int__(self) -> int:
        return self.tokens


class TokenCounter:
    """Counts tokens offline.  Each encoding is loaded on first use and kept by this
    object (a few seconds and ~150 MB the first time); long texts' counts are
    remembered in a bounded memo (``memo_chars`` characters of text at most, least
    recently used first out), since prompts repeat.

    Create one and keep it: the runtime's levers each hold theirs.  Counts come from
    :func:`~thrifty.tokens.counting.load_count` (fastokens; tiktoken's counts);
    ``loader`` builds a tiktoken encoding by name, for :meth:`encoding`, and when given,
    counts come from it too (tests inject a failing or fake one); ``count_loader``, when
    given, makes the counts (:func:`~thrifty.tokens.counting.quick_load_count` for a
    process that counts once and exits)."""

    def __init__(
        self,
        *,
        loader: Callable[[EncodingName], tiktoken.Encoding] | None = None,
        count_loader: Callable[[EncodingName], CountTokens] | None = None,
        memo_chars: int = 16_000_000,
    ) -> None:
        self._loader = loader if loader is not None else load_encoding
        self._count_loader: Callable[[EncodingName], CountTokens] = (
            count_loader
            if count_loader is not None
            else load_count
            if loader is None
            else self._loaded_count
        )
        self._encodings: dict[EncodingName, tiktoken.Encoding] = {}
        self._counts: dict[EncodingName, CountTokens] = {}
        self._loading = threading.Lock()  # one load per encoding, whichever thread asks
        self._memo: OrderedDict[tuple[EncodingName, str], int] = OrderedDict()
        self._memo_limit = memo_chars
        self._memo_held = 0

    # -- raw counts ---------------------------------------------------------------------

    def encoding(self, name: EncodingName) -> tiktoken.Encoding:
        """The tiktoken encoding ``name`` (token ids; counting does not need it)."""
        found = self._encodings.get(name)
        if found is None:
            found = self._encodings[name] = self._loader(name)
        return found

    def counting(self, name: EncodingName) -> CountTokens:
        """The exact count of a text in encoding ``name``, loaded on first use (call it at
        start-up, off the event loop, to load it before the first request)."""
        found = self._counts.get(name)
        if found is None:
            with self._loading:
                found = self._counts.get(name)
                if found is None:
                    found = self._counts[name] = self._count_loader(name)
        return found

    def loaded(self, name: EncodingName) -> bool:
        """Whether encoding ``name``'s count is loaded (counting with it costs no load)."""
        return name in self._counts

    async def load(self, name: EncodingName) -> None:
        """Loads encoding ``name``'s count on a worker thread, unless it is loaded: a
        fastokens encoding takes seconds and ~150 MB, which must not stall the event loop."""
        if name not in self._counts:
            await asyncio.to_thread(self.counting, name)

    async def load_for(self, model: str) -> None:
        """Loads the encoding that counts ``model``'s tokens (:meth:`load`): a stage that
        counts awaits it before counting, so the first request for a model of an encoding
        not loaded at start (``cl100k_base``: gpt-4, gpt-3.5) waits for the load on a
        thread instead of stalling every request in flight."""
        name = tokenizer_for(model).encoding
        if name not in self._counts:
            await self.load(name)

    def _loaded_count(self, name: EncodingName) -> CountTokens:
        return tiktoken_count(self.encoding(name))

    def encoded_length(self, name: EncodingName, text: str) -> int:
        """Tokens of ``text`` in encoding ``name``, special-token text counted as text.

        A long text's count is remembered (the same system prompt, the earlier turns of a
        conversation, a document counted by one stage then another).  A text not seen
        before is counted whole: counting is so cheap (fastokens, ~0.1 us a token) that
        remembering it line by line, to count a new text made of known lines, cost more
        than it saved (docs/benchmarks.md, "Fewer-tokens overhead"); one of 16,000
        characters or more is counted in parts (:func:`~thrifty.tokens.pieces.chunks`:
        the sum is exact), which keeps the work on the calling thread."""
        if len(text) < MEMO_MIN_CHARS:
            return self.counting(name)(text) if text else 0
        key = (name, text)
        found = self._memo.get(key)
        if found is not None:
            self._memo.move_to_end(key)
            return found
        count = self.counting(name)
        if len(text) < CHUNK_MAX_CHARS:
            found = count(text)
        else:
            found = sum(count(part) for part in chunks(text, CHUNK_MAX_CHARS))
        self._remember(name, text, found)
        return found

    def _remember(self, name: EncodingName, text: str, tokens: int) -> None:
        memo = self._memo
        memo[(name, text)] = tokens
        self._memo_held += len(text)
        while self._memo_held > self._memo_limit and memo:
            (_, old), _ = memo.popitem(last=False)
            self._memo_held -= len(old)

    # -- public counts ------------------------------------------------------------------

    def count_text(self, model: str, text: str) -> TokenCount:
        """Tokens of a plain text for ``model`` (no chat framing)."""
        choice = tokenizer_for(model)
        return self._result(choice, self.encoded_length(choice.encoding, text), 0)

    def count_texts(self, model: str, texts: Iterable[str]) -> list[int]:
        """``count_text(model, text).tokens`` of each text, the model looked up once."""
        choice = tokenizer_for(model)
        name = choice.encoding
        counts = [self.encoded_length(name, text) for text in texts]
        if choice.scale == 1:
            return counts
        return [self._result(choice, n, 0).tokens for n in counts]

    def least_text(self, model: str, text: str, enough: int | None = None) -> int:
        """A proven lower bound on ``count_text(model, text).tokens``, without counting
        (:mod:`~thrifty.tokens.bounds`; the count itself when the text is remembered).
        With ``enough`` (for a question "at least ``enough``?"), the bound of a long
        text's leading part once it reaches ``enough``: the rest is not read."""
        choice = tokenizer_for(model)
        known = self._memo.get((choice.encoding, text))
        if known is None:
            if enough is not None and choice.scale != 1:  # in the encoding's own tokens
                enough = math.ceil(enough / choice.scale)
            known = least_tokens(text, enough)
        return self._result(choice, known, 0).tokens

    def count_messages(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        *,
        system: Any = None,
        tools: Sequence[Any] | None = None,
    ) -> TokenCount:
        """Prompt tokens of a conversation for ``model``: OpenAI chat messages, or Anthropic
        messages with ``system`` (a string or text blocks); ``tools`` in either dialect."""
        choice = tokenizer_for(model)
        enc = choice.encoding
        text_tokens = 0
        framing = REPLY_PRIMING
        if system is not None:
            framing += TOKENS_PER_MESSAGE
            text_tokens += self._texts(enc, _content_texts(system))
        for message in messages:
            framing += TOKENS_PER_MESSAGE
            if not isinstance(message, Mapping):
                continue
            if "name" in message:
                framing += TOKENS_PER_NAME
            text_tokens += self._texts(enc, _message_texts(message))
        if tools:
            tool_text, tool_framing = self._tools(enc, tools)
            text_tokens += tool_text
            framing += tool_framing
        return self._result(choice, text_tokens, framing)

    def count_request(self, request: ChatRequest) -> TokenCount:
        """Prompt tokens of a chat request (either dialect), for the model it calls."""
        body = request.body
        messages = body.get("messages")
        tools = body.get("tools")
        return self.count_messages(
            request.model,
            messages if isinstance(messages, list) else [],
            system=body.get("system") if request.dialect == "anthropic" else None,
            tools=tools if isinstance(tools, list) else None,
        )

    # -- helpers ------------------------------------------------------------------------

    def _texts(self, enc: EncodingName, texts: Iterable[str]) -> int:
        return sum(self.encoded_length(enc, text) for text in texts)

    def _tools(self, enc: EncodingName, tools: Sequence[Any]) -> tuple[int, int]:
        """(text tokens, framing tokens) of tool definitions, by the cookbook's method
        for function tools; any other tool counts its JSON."""
        text = framing = 0
        for tool in tools:
            if not isinstance(tool, Mapping):
                continue
            function = tool.get("function") if tool.get("type") == "function" else tool
            schema = None
            if isinstance(function, Mapping):
                schema = function.get("parameters", function.get("input_schema"))
            if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
                text += self.encoded_length(enc, _json(tool))
                continue
            framing += _FUNC_INIT[enc]
            description = str(function.get("description") or "").removesuffix(".")
            text += self.encoded_length(enc, f"{function['name']}:{description}")
            properties = schema.get("properties") if isinstance(schema, Mapping) else None
            if isinstance(properties, Mapping) and properties:
                framing += _PROP_INIT
                for key, prop in properties.items():
                    framing += _PROP_KEY
                    prop = prop if isinstance(prop, Mapping) else {}
                    enum = prop.get("enum")
                    if isinstance(enum, list):
                        framing += _ENUM_INIT + _ENUM_ITEM * len(enum)
                        text += self._texts(enc, (str(item) for item in enum))
                    kind = prop.get("type", "")
                    desc = str(prop.get("description") or "").removesuffix(".")
                    text += self.encoded_length(enc, f"{key}:{kind}:{desc}")
        if framing:
            framing += _FUNC_END
        return text, framing

    @staticmethod
    def _result(choice: TokenizerChoice, text_tokens: int, framing: int) -> TokenCount:
        scaled = text_tokens if choice.scale == 1 else math.ceil(text_tokens * choice.scale)
        return TokenCount(scaled + framing, choice.exact, choice.method)


def _json(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return str(value)


def _content_texts(content: Any) -> Iterable[str]:
    """The countable texts of a message content in either dialect."""
    if isinstance(content, str):
        yield content
        return
    if not isinstance(content, list):
        return
    for part in content:
        if not isinstance(part, Mapping):
            continue
        text = part.get("text")
        if isinstance(text, str):
            yield text
        elif part.get("type") == "tool_use":  # Anthropic tool call
            yield str(part.get("name") or "")
            yield _json(part.get("input"))
        elif part.get("type") == "tool_result":  # Anthropic tool result
            yield from _content_texts(part.get("content"))


def _message_texts(message: Mapping[str, Any]) -> Iterable[str]:
    role = message.get("role")
    if isinstance(role, str):
        yield role
    name = message.get("name")
    if isinstance(name, str):
        yield name
    yield from _content_texts(message.get("content"))
    calls = message.get("tool_calls")
    for call in calls if isinstance(calls, list) else ():
        function = call.get("function") if isinstance(call, Mapping) else None
        if isinstance(function, Mapping):
            yield str(function.get("name") or "")
            arguments = function.get("arguments")
            yield arguments if isinstance(arguments, str) else _json(arguments)
