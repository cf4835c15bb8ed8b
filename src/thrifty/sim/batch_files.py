"""The input side of OpenAI's Batch API on the simulator: multipart uploads and the
checks an input file must pass before a batch runs (see :mod:`thrifty.sim.batches_openai`)."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser

import orjson

MAX_LINES = 50_000
MAX_BATCH_BYTES = 200 * 2**20


class FormError(ValueError):
    """A multipart body that cannot be read."""


def parse_form(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """The fields of a ``multipart/form-data`` body: name -> (file name, bytes)."""
    if not content_type.lower().startswith("multipart/form-data"):
        raise FormError("the body must be multipart/form-data")
    head = b"Content-Type: " + content_type.encode("latin-1") + b"\r\nMIME-Version: 1.0\r\n\r\n"
    message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise FormError("the multipart body has no parts")
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        fields[name] = (part.get_filename(), payload if isinstance(payload, bytes) else b"")
    return fields


def check_lines(
    content: bytes, endpoint: str
) -> tuple[list[str], list[object], list[dict[str, object]]]:
    """(custom ids, bodies, errors): the errors name each bad line, 1-based."""
    errors: list[dict[str, object]] = []

    def bad(line: int | None, code: str, message: str) -> None:
        errors.append({"code": code, "line": line, "message": message, "param": None})

    if len(content) > MAX_BATCH_BYTES:
        bad(None, "file_too_large", f"The batch input file is larger than {MAX_BATCH_BYTES} bytes.")
        return [], [], errors
    lines = [raw for raw in content.splitlines() if raw.strip()]
    if len(lines) > MAX_LINES:
        bad(None, "too_many_requests", f"The batch input file has more than {MAX_LINES} requests.")
        return [], [], errors
    ids: list[str] = []
    bodies: list[object] = []
    seen: set[str] = set()
    model: object = None
    for number, raw in enumerate(lines, start=1):
        try:
            line = orjson.loads(raw)
        except orjson.JSONDecodeError:
            bad(number, "invalid_json_line", "This line is not parseable as valid JSON.")
            continue
        if not isinstance(line, dict):
            bad(number, "invalid_json_line", "This line is not a JSON object.")
            continue
        custom_id, body = line.get("custom_id"), line.get("body")
        if not isinstance(custom_id, str) or not custom_id:
            bad(number, "missing_required_parameter", "The line has no custom_id.")
            continue
        if custom_id in seen:
            bad(number, "duplicate_custom_id", f"The custom_id {custom_id!r} is repeated.")
            continue
        if line.get("method") != "POST":
            bad(number, "invalid_method", "The method must be POST.")
            continue
        if line.get("url") != endpoint:
            bad(number, "invalid_url", f"The url must be {endpoint}, like the batch's endpoint.")
            continue
        if not isinstance(body, dict):
            bad(number, "missing_required_parameter", "The line has no body object.")
            continue
        if model is None:
            model = body.get("model")
        elif body.get("model") != model:
            bad(number, "mismatched_model", "Every line of a batch must use the same model.")
            continue
        seen.add(custom_id)
        ids.append(custom_id)
        bodies.append(body)
    return ids, bodies, errors
