"""Rules of the real APIs about stop fields and tool turns, shared by the simulator's
request checks: each raises :class:`BadRequest` with the status, code, param and message
shape the provider answers with (messages shortened where the provider's are long).

OpenAI: ``stop`` is a string or at most four strings; a ``tool`` message answers one of
the ``tool_calls`` of the assistant message right before its run of tool messages, and
that assistant message's calls are all answered before the next other message.
Anthropic: ``stop_sequences`` is a list of strings; a ``tool_result`` block answers a
``tool_use`` block of the message right before it, and a message of calls is followed by
one that opens with the results of them all (text after them; nothing in between).  In
both, a conversation may end on calls that wait for their answers."""

from __future__ import annotations

from typing import Any

from thrifty.sim.dialect import BadRequest, JSONObj

OPENAI_MAX_STOPS = 4
_JSON_KINDS = {bool: "a boolean", int: "an integer", float: "a number", dict: "an object"}


def _kind(value: object) -> str:
    return _JSON_KINDS.get(type(value), "null" if value is None else "an array")


def check_openai_stop(body: JSONObj) -> None:
    """``stop``: absent, null, a string, or an array of at most four strings."""
    stop = body.get("stop")
    if stop is None or isinstance(stop, str):
        return
    if not isinstance(stop, list):
        raise BadRequest(
            "Invalid type for 'stop': expected one of a string or an array of strings, "
            f"but got {_kind(stop)} instead.",
            param="stop",
            code="invalid_type",
        )
    for index, item in enumerate(stop):
        if not isinstance(item, str):
            raise BadRequest(
                f"Invalid type for 'stop[{index}]': expected a string, but got "
                f"{_kind(item)} instead.",
                param=f"stop[{index}]",
                code="invalid_type",
            )
    if len(stop) > OPENAI_MAX_STOPS:
        raise BadRequest(
            f"Invalid 'stop': array too long. Expected an array with maximum length "
            f"{OPENAI_MAX_STOPS}, but got an array with length {len(stop)} instead.",
            param="stop",
            code="array_above_max_length",
        )


def check_openai_tool_messages(messages: list[JSONObj]) -> None:
    """Each ``tool`` message answers a call of the assistant message before its run; each
    assistant message's calls are answered before any other message follows."""
    calls: list[str] | None = None  # ids of the assistant message whose answers run now
    caller = -1
    for index, message in enumerate(messages):
        if message.get("role") == "tool":
            if calls is None:
                raise BadRequest(
                    "Invalid parameter: messages with role 'tool' must be a response to a "
                    "preceeding message with 'tool_calls'.",
                    param=f"messages.[{index}].role",
                )
            answered = message.get("tool_call_id")
            if answered not in calls:
                raise BadRequest(
                    f"Invalid parameter: 'tool_call_id' of {answered!r} not found in "
                    "'tool_calls' of previous message.",
                    param=f"messages.[{index}].tool_call_id",
                )
            calls.remove(answered)
            continue
        _all_answered(calls, caller)
        calls, caller = _call_ids(message), index
    if len(messages) - 1 != caller:  # the last assistant message may wait for answers
        _all_answered(calls, caller)


def _call_ids(message: JSONObj) -> list[str] | None:
    tool_calls = message.get("tool_calls") if message.get("role") == "assistant" else None
    if not isinstance(tool_calls, list) or not tool_calls:
        return None
    return [str(c.get("id")) for c in tool_calls if isinstance(c, dict)]


def _all_answered(calls: list[str] | None, caller: int) -> None:
    if calls:
        raise BadRequest(
            "An assistant message with 'tool_calls' must be followed by tool messages "
            "responding to each 'tool_call_id'. The following tool_call_ids did not have "
            f"response messages: {', '.join(calls)}",
            param=f"messages.[{caller}].role",
        )


def check_anthropic_stop_sequences(body: JSONObj) -> None:
    """``stop_sequences``: absent, null, or a list of strings."""
    stops = body.get("stop_sequences")
    if stops is None:
        return
    if not isinstance(stops, list):
        raise BadRequest("stop_sequences: Input should be a valid list")
    for index, item in enumerate(stops):
        if not isinstance(item, str):
            raise BadRequest(f"stop_sequences.{index}: Input should be a valid string")


def check_anthropic_tool_turns(messages: list[JSONObj]) -> None:
    """Tool results answer the calls of the message right before; a message of calls is
    followed by a message that opens with the results of them all (when any follows)."""
    calls: dict[str, None] = {}  # the previous message's tool_use ids, in order
    for index, message in enumerate(messages):
        results: set[str] = set()
        opening = True  # in the run of tool_result blocks that opens the message
        for position, block in _blocks(message):
            if block.get("type") != "tool_result":
                opening = False
                continue
            answered = block.get("tool_use_id")
            if not isinstance(answered, str) or answered not in calls:
                raise BadRequest(
                    f"messages.{index}.content.{position}: unexpected `tool_use_id` found in "
                    f"`tool_result` blocks: {answered}. Each `tool_result` block must have a "
                    "corresponding `tool_use` block in the previous message."
                )
            if opening:
                results.add(answered)
        missing = [i for i in calls if i not in results]
        if missing:
            raise BadRequest(
                f"messages.{index - 1}: `tool_use` ids were found without `tool_result` blocks "
                f"immediately after: {', '.join(missing)}. Each `tool_use` block must have a "
                "corresponding `tool_result` block in the next message."
            )
        calls = {}
        if message.get("role") == "assistant":
            for _, block in _blocks(message):
                if block.get("type") == "tool_use":
                    calls[str(block.get("id"))] = None


def _blocks(message: JSONObj) -> list[tuple[int, dict[str, Any]]]:
    content = message.get("content")
    if not isinstance(content, list):
        return []
    return [(position, block) for position, block in enumerate(content) if isinstance(block, dict)]
