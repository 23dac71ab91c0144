"""What the façade reads from a client: multipart uploads, and training files it can train on.

Why the stdlib's `email` parser: `multipart/form-data` is MIME, `cgi` is gone from newer Pythons, and the
façade adds no dependency for one form.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from http import HTTPStatus

from services.trainer.facade.errors import ApiError


@dataclass(frozen=True)
class Upload:
    filename: str
    purpose: str
    data: bytes


def parse_upload(content_type: str, body: bytes) -> Upload:
    """The `file` and `purpose` fields of a `POST /v1/files` form."""
    if not content_type.startswith("multipart/form-data"):
        raise ApiError(HTTPStatus.BAD_REQUEST, "the body must be multipart/form-data with `file` and `purpose`")
    message = BytesParser(policy=policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            fields[name] = (part.get_filename(), part.get_payload(decode=True) or b"")
    if "file" not in fields:
        raise ApiError(HTTPStatus.BAD_REQUEST, "Missing required parameter: 'file'.", "file")
    if "purpose" not in fields:
        raise ApiError(HTTPStatus.BAD_REQUEST, "Missing required parameter: 'purpose'.", "purpose")
    filename, data = fields["file"]
    return Upload(filename or "upload.jsonl", fields["purpose"][1].decode().strip(), data)


def training_rows(data: bytes) -> list[dict]:
    """The rows of a chat fine-tuning file; every problem names its line, as a failed job's error says.

    Raises:
        ValueError: the file is not JSONL of `{"messages": [...]}` rows with an assistant message each.
    """
    rows = []
    for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"line {number}: not JSON ({error.msg})") from None
        messages = row.get("messages") if isinstance(row, dict) else None
        if not isinstance(messages, list) or not all(
                isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
                for m in messages):
            raise ValueError(f"line {number}: needs `messages`, a list of {{role, content}} strings")
        if not any(m["role"] == "assistant" for m in messages):
            raise ValueError(f"line {number}: no assistant message to learn from")
        rows.append({"messages": [{"role": m["role"], "content": m["content"]} for m in messages]})
    if not rows:
        raise ValueError("the file holds no training rows")
    return rows
