"""The Responses API's stored responses, as the simulator keeps them (in memory, bounded).

``POST /v1/responses`` stores what it answers unless the body says ``"store": false``:
the response object and its input items.  The side routes read them, in OpenAI's wire
format:

* ``GET /v1/responses/{id}``: the response (``404`` when unknown or deleted);
* ``DELETE /v1/responses/{id}``: ``{"id", "object": "response", "deleted": true}``;
* ``POST /v1/responses/{id}/cancel``: a background response still running becomes
  ``cancelled``; cancelling one that was not created in background mode, or that has
  finished, is a ``400``; cancelling a cancelled one returns it unchanged;
* ``GET /v1/responses/{id}/input_items``: a cursor page (``after``, ``limit`` 1-100,
  ``order`` ``asc``/``desc``, newest first by default);
* ``POST /v1/responses/input_tokens``: ``{"object": "response.input_tokens",
  "input_tokens": N}``, counted as ``POST /v1/responses`` counts its input.

A background response (``"background": true``) is answered at once with status
``queued``; it reads ``in_progress`` until the simulated work is done (the request's
latency: the configured latency plus any ``[[sim:latency=MS]]`` marker), then
``completed``, by the state's clock.  The store keeps the newest ``max_entries``
responses; older ones are forgotten (a later ``GET`` is a ``404``).
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from thrifty.sim.dialect import BadRequest, JSONObj

MAX_PAGE = 100
DEFAULT_PAGE = 20
_ENDED = frozenset({"completed", "incomplete", "failed"})


class NotStored(Exception):
    """No stored response has this id (never stored, deleted or evicted)."""

    def __init__(self, response_id: str) -> None:
        shown = response_id if len(response_id) <= 64 else response_id[:64] + "..."
        self.message = f"Response with id '{shown}' not found."
        super().__init__(self.message)


@dataclass(slots=True)
class _Entry:
    shown: JSONObj  # what a GET answers now
    items: list[JSONObj]  # the input items, with ids, in the order they were sent
    finished: JSONObj | None = None  # a background response's result, once ready_at passes
    ready_at: float = 0.0


def _content_parts(content: Any, role: str) -> list[JSONObj]:
    """A message's content as the list of typed parts the API returns."""
    kind = "output_text" if role == "assistant" else "input_text"
    if isinstance(content, str):
        return [{"type": kind, "text": content}]
    if isinstance(content, list):
        return [
            part if isinstance(part, dict) else {"type": kind, "text": str(part)}
            for part in content
        ]
    return []


def stored_item(item: JSONObj) -> JSONObj:
    """An input item as ``input_items`` lists it: with an id and a status; a message's
    string content becomes a list of text parts."""
    kind = item.get("type", "message")
    stored: JSONObj = {**item, "type": kind, "status": item.get("status", "completed")}
    if kind == "message":
        role = str(item.get("role", "user"))
        stored["role"] = role
        stored["content"] = _content_parts(item.get("content"), role)
        stored.setdefault("id", "msg_" + uuid.uuid4().hex)
    elif kind == "function_call_output":
        stored.setdefault("id", "fco_" + uuid.uuid4().hex)
    else:
        stored.setdefault("id", "item_" + uuid.uuid4().hex)
    return stored


class ResponseStore:
    """Stored responses by id: newest ``max_entries`` kept, ``clock`` (seconds) decides
    when background work is done."""

    def __init__(self, max_entries: int, clock: Callable[[], float]) -> None:
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._max = max(1, max_entries)
        self._clock = clock

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, response: JSONObj, items: list[JSONObj]) -> None:
        self._add(response["id"], _Entry(shown=response, items=[stored_item(i) for i in items]))

    def put_background(
        self, queued: JSONObj, finished: JSONObj, items: list[JSONObj], run_s: float
    ) -> None:
        """A background response: ``queued`` now, ``finished`` after ``run_s`` seconds."""
        entry = _Entry(
            shown=queued,
            items=[stored_item(i) for i in items],
            finished=finished,
            ready_at=self._clock() + run_s,
        )
        self._add(queued["id"], entry)

    def _add(self, response_id: str, entry: _Entry) -> None:
        self._entries[response_id] = entry
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def _entry(self, response_id: str) -> _Entry:
        entry = self._entries.get(response_id)
        if entry is None:
            raise NotStored(response_id)
        if entry.finished is not None:
            if self._clock() >= entry.ready_at:
                entry.shown, entry.finished = entry.finished, None
            elif entry.shown["status"] == "queued":
                entry.shown = {**entry.shown, "status": "in_progress"}
        return entry

    def get(self, response_id: str) -> JSONObj:
        return self._entry(response_id).shown

    def context(self, response_id: str) -> list[JSONObj]:
        """The conversation so far up to and including ``response_id`` (its input items,
        then its output): what ``previous_response_id`` continues."""
        entry = self._entry(response_id)
        output = entry.shown.get("output") or []
        return [*entry.items, *output]

    def delete(self, response_id: str) -> JSONObj:
        self._entry(response_id)
        del self._entries[response_id]
        return {"id": response_id, "object": "response", "deleted": True}

    def cancel(self, response_id: str) -> JSONObj:
        entry = self._entry(response_id)
        shown = entry.shown
        if not shown.get("background"):
            raise BadRequest("Only responses created with background=true can be cancelled.")
        if shown["status"] == "cancelled":
            return shown
        if shown["status"] in _ENDED:
            raise BadRequest(f"Cannot cancel a response with status '{shown['status']}'.")
        entry.shown = {**shown, "status": "cancelled", "output": [], "usage": None}
        entry.finished = None
        return entry.shown

    def input_items(
        self, response_id: str, *, after: str | None, limit: int, order: str
    ) -> JSONObj:
        """One cursor page of the input items (``after``: the last id of the previous
        page)."""
        items = list(self._entry(response_id).items)
        if order == "desc":
            items.reverse()
        if after is not None:
            ids = [item["id"] for item in items]
            if after not in ids:
                raise BadRequest(f"Invalid 'after': no item with id '{after[:64]}'.")
            items = items[ids.index(after) + 1 :]
        page = items[:limit]
        return {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": len(items) > len(page),
        }
