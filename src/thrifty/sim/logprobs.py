"""Token log-probabilities for OpenAI chat answers, when the request asks (``logprobs``).

Deterministic: each output token's log-probability is drawn from the answer's seed, between
-0.3 and 0 (a confident model), so the mean is about -0.15.  A ``[[sim:logprob=X]]``
marker in the last user message centres them on ``X`` instead (a hesitant answer:
``[[sim:logprob=-2]]``).  ``top_logprobs`` lists the token itself only.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from thrifty.sim.tokens import token_pieces

_MARKER = re.compile(r"\[\[sim:logprob=(-?\d+(?:\.\d+)?)\]\]")
_SPREAD = 0.3


def wants_logprobs(body: dict[str, Any]) -> bool:
    return body.get("logprobs") is True


def logprobs_content(text: str, seed: bytes, last_user_text: str) -> dict[str, Any]:
    """The ``choices[].logprobs`` object of an answer whose text is ``text``."""
    pieces = token_pieces(text)
    marker = _MARKER.search(last_user_text)
    centre = min(0.0, float(marker.group(1))) if marker else -_SPREAD / 2
    stream = hashlib.shake_128(seed + b"logprobs").digest(max(1, len(pieces)))
    content = []
    for piece, byte in zip(pieces, stream, strict=False):
        value = min(0.0, centre + _SPREAD * (byte / 255 - 0.5))
        entry = {"token": piece, "logprob": round(value, 6), "bytes": list(piece.encode())}
        content.append({**entry, "top_logprobs": [dict(entry)]})
    return {"content": content, "refusal": None}
