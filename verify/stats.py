"""Mergeable run statistics: outcome counts, per-check status counts, reasons, worst rows.

Plain data with a JSON round-trip, so a run's statistics survive a checkpoint and a resumed run
continues counting where the interrupted one stopped (datatrove's Stats idea). Reason examples
are bounded: one example per reason code, the 10 worst rows.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from verify.outcome import OUTCOMES
from verify.records import STATUSES

WORST_ROWS = 10


@dataclass
class ReasonCount:
    count: int
    example: str
    line: int


@dataclass
class CheckStats:
    version: str = ""
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    seconds: float = 0.0
    cached: int = 0
    reasons: dict[str, ReasonCount] = field(default_factory=dict)

    def add(self, status: str, code: str, reason: str, seconds: float, cached: bool, line: int) -> None:
        self.counts[status] += 1
        self.seconds += seconds
        self.cached += cached
        if status in ("fail", "error"):
            entry = self.reasons.get(code)
            if entry is None:
                self.reasons[code] = ReasonCount(1, reason, line)
            else:
                entry.count += 1

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass
class RunStats:
    outcomes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    blank: int = 0
    unchanged: int = 0
    checks: dict[str, CheckStats] = field(default_factory=dict)
    invalid_reasons: dict[str, ReasonCount] = field(default_factory=dict)
    # (score, -line, line, id, message per failing check) — a min-heap of the worst rows.
    worst: list[list[Any]] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(self.outcomes.values())

    def add_row(self, outcome: str, line: int, record_id: str,
                summaries: Sequence[tuple[str, str, str, str, float, bool]]) -> None:
        """Count one record row; `summaries` are (check, status, code, reason, seconds, cached)."""
        self.outcomes[outcome] += 1
        checks = self.checks
        for check, status, code, reason, seconds, cached in summaries:
            stats = checks.get(check)
            if stats is None:
                stats = checks[check] = CheckStats()
            stats.add(status, code, reason, seconds, cached, line)
        if outcome == "rejected":
            failures = [f"{check}: {reason}" for check, status, _, reason, _, _ in summaries if status == "fail"]
            self._offer_worst(len(failures), line, record_id, failures)

    def add_invalid(self, line: int, code: str, error: str) -> None:
        self.outcomes["invalid"] += 1
        entry = self.invalid_reasons.get(code)
        if entry is None:
            self.invalid_reasons[code] = ReasonCount(1, error, line)
        else:
            entry.count += 1
        # An unreadable row is worse than any rejected one: it cannot be trained on or fixed by a model.
        self._offer_worst(1000, line, "", [f"invalid: {error}"])

    def _offer_worst(self, score: int, line: int, record_id: str, messages: list[str]) -> None:
        item = [score, -line, line, record_id, messages[:5]]
        if len(self.worst) < WORST_ROWS:
            heapq.heappush(self.worst, item)
        elif item[:2] > self.worst[0][:2]:
            heapq.heapreplace(self.worst, item)

    def worst_rows(self) -> list[dict[str, Any]]:
        ordered = sorted(self.worst, key=lambda item: (-item[0], item[2]))
        return [{"line": item[2], "id": item[3], "messages": item[4]} for item in ordered]

    def to_json(self) -> dict[str, Any]:
        return {
            "outcomes": self.outcomes,
            "blank": self.blank,
            "unchanged": self.unchanged,
            "checks": {
                name: {
                    "version": c.version,
                    "counts": c.counts,
                    "seconds": c.seconds,
                    "cached": c.cached,
                    "reasons": {code: [r.count, r.example, r.line] for code, r in c.reasons.items()},
                }
                for name, c in self.checks.items()
            },
            "invalid_reasons": {code: [r.count, r.example, r.line] for code, r in self.invalid_reasons.items()},
            "worst": self.worst,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunStats:
        stats = cls(outcomes=dict(data["outcomes"]), blank=data["blank"], unchanged=data["unchanged"])
        for name, c in data["checks"].items():
            stats.checks[name] = CheckStats(
                version=c["version"],
                counts=dict(c["counts"]),
                seconds=c["seconds"],
                cached=c["cached"],
                reasons={code: ReasonCount(*r) for code, r in c["reasons"].items()},
            )
        stats.invalid_reasons = {code: ReasonCount(*r) for code, r in data["invalid_reasons"].items()}
        stats.worst = [list(item) for item in data["worst"]]
        heapq.heapify(stats.worst)
        return stats
