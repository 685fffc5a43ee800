"""The shapes every part of sft-verify shares: the canonical record and the verdict.

See DESIGN.md §1–§2. A `Record` is what every adapter produces and every verifier reads; a
`Verdict` is what every verifier returns. Both are plain data with JSON round-trips so they
cross process boundaries and land in output files unchanged.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["pass", "fail", "error", "skip"]
STATUSES: tuple[str, ...] = ("pass", "fail", "error", "skip")


@dataclass(frozen=True, slots=True)
class Verdict:
    """One check's decision on one record.

    `status` is `pass`/`fail`/`error`/`skip`; `error` means the verifier could not decide
    (its own timeout, an engine down) and must never be folded into pass or fail.
    `code` is a stable machine-readable reason (e.g. `math.mismatch`) used to group reasons
    in reports; `reason` is the sentence a person reads.
    """

    check: str
    status: Status
    reason: str
    code: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown verdict status {self.status!r}; expected one of {STATUSES}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "status": self.status,
            "reason": self.reason,
            "code": self.code,
            "details": self.details,
            "seconds": round(self.seconds, 6),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Verdict:
        return cls(
            check=data["check"],
            status=data["status"],
            reason=data["reason"],
            code=data.get("code", ""),
            details=data.get("details") or {},
            seconds=float(data.get("seconds", 0.0)),
        )

    def with_seconds(self, seconds: float) -> Verdict:
        return Verdict(self.check, self.status, self.reason, self.code, self.details, seconds)


def passed(check: str, reason: str, code: str = "", **details: Any) -> Verdict:
    return Verdict(check, "pass", reason, code or f"{check}.pass", details)


def failed(check: str, reason: str, code: str, **details: Any) -> Verdict:
    return Verdict(check, "fail", reason, code, details)


def errored(check: str, reason: str, code: str, **details: Any) -> Verdict:
    return Verdict(check, "error", reason, code, details)


def skipped(check: str, reason: str, code: str = "", **details: Any) -> Verdict:
    return Verdict(check, "skip", reason, code or f"{check}.skip", details)


class RecordError(ValueError):
    """A line that cannot be turned into a record; the message says what is wrong."""


@dataclass(slots=True)
class Record:
    """The canonical record (DESIGN.md §1).

    `line` is the 1-based input line (or row) number. `id` is the record's own id, or
    `line-N` when it has none. `checks` maps check name to that check's ground truth.
    `extra` keeps every other field of the canonical form, carried through untouched.
    """

    id: str
    line: int
    messages: list[dict[str, Any]]
    checks: dict[str, dict[str, Any]]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def response(self) -> str:
        """The content of the last assistant message: the response under test."""
        for message in reversed(self.messages):
            if message.get("role") == "assistant":
                return message_text(message)
        raise RecordError("no assistant message")

    @property
    def prompt(self) -> str:
        """The last user message before the response (empty when there is none)."""
        seen_response = False
        for message in reversed(self.messages):
            role = message.get("role")
            if role == "assistant" and not seen_response:
                seen_response = True
            elif role == "user" and seen_response:
                return message_text(message)
        return ""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "messages": self.messages, "checks": self.checks}
        data.update(self.extra)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], line: int) -> Record:
        """Build from the canonical JSON shape; raises RecordError with what is wrong."""
        if not isinstance(data, dict):
            raise RecordError(f"expected a JSON object, got {type(data).__name__}")
        messages = data.get("messages")
        validate_messages(messages)
        checks = data.get("checks") or {}
        if not isinstance(checks, dict):
            raise RecordError(f"'checks' must be an object, got {type(checks).__name__}")
        for name, spec in checks.items():
            if not isinstance(spec, dict):
                raise RecordError(f"checks.{name} must be an object, got {type(spec).__name__}")
        raw_id = data.get("id")
        if raw_id is None or raw_id == "":
            record_id = f"line-{line}"
        elif isinstance(raw_id, (str, int)) and not isinstance(raw_id, bool):
            record_id = str(raw_id)
        else:
            raise RecordError(f"'id' must be a string or an integer, got {type(raw_id).__name__}")
        extra = {k: v for k, v in data.items() if k not in ("id", "messages", "checks")}
        return cls(id=record_id, line=line, messages=messages, checks=checks, extra=extra)


def message_text(message: dict[str, Any]) -> str:
    """A message's text; OpenAI content-part lists are joined, non-text parts ignored."""
    content = message.get("content")
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part.get("text", "") for part in content if isinstance(part, dict) and part.get("type", "text") == "text"
        )
    return str(content)


def validate_messages(messages: Any) -> None:
    """Raise RecordError unless `messages` is a non-empty OpenAI chat list with an assistant turn."""
    if messages is None:
        raise RecordError("missing 'messages'")
    if type(messages) is not list:
        raise RecordError(f"'messages' must be a list, got {type(messages).__name__}")
    if not messages:
        raise RecordError("'messages' is empty")
    has_assistant = False
    for index, message in enumerate(messages):
        if type(message) is not dict:
            raise RecordError(f"messages[{index}] must be an object, got {type(message).__name__}")
        role = message.get("role")
        if not role or type(role) is not str:
            raise RecordError(f"messages[{index}] has no 'role'")
        if role == "assistant":
            has_assistant = True
        content = message.get("content")
        if content is not None and type(content) is not str and type(content) is not list:
            raise RecordError(f"messages[{index}].content must be a string or a list of parts")
    if not has_assistant:
        raise RecordError("no assistant turn in 'messages'")


def canonical_json(value: Any) -> str:
    """Stable JSON text (sorted keys, no spaces): the form that is hashed for cache keys."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_hex(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()
