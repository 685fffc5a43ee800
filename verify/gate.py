"""The CI gate: exit codes (DESIGN.md §4), GitHub annotations and the step summary.

0 the gate holds · 1 rows were rejected or invalid beyond what `--min-pass-rate` allows ·
2 usage or environment error (also: a verifier that rows needed could not run here, such as
code checks without a Docker engine — their rows are in errors.jsonl and the run says why).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verify.report import markdown

EXIT_OK, EXIT_GATE, EXIT_USAGE = 0, 1, 2
STEP_SUMMARY_LIMIT = 1024 * 1024 - 4096  # GitHub caps a step summary at 1 MiB


@dataclass
class GateDecision:
    code: int
    message: str


def decide(summary: dict[str, Any], min_pass_rate: float | None) -> GateDecision:
    counts = summary["counts"]
    if summary["unavailable"]:
        names = ", ".join(sorted(summary["unavailable"]))
        return GateDecision(EXIT_USAGE, f"environment error: {names} could not run here (see report.md)")
    bad = counts["rejected"] + counts["invalid"]
    judged = counts["kept"] + bad
    if min_pass_rate is None:
        if bad:
            return GateDecision(EXIT_GATE, f"gate failed: {counts['rejected']} rejected, {counts['invalid']} invalid")
        return GateDecision(EXIT_OK, "gate holds: nothing rejected or invalid")
    rate = counts["kept"] / judged if judged else 1.0
    if rate < min_pass_rate:
        return GateDecision(EXIT_GATE, f"gate failed: pass rate {rate:.4f} < --min-pass-rate {min_pass_rate}")
    return GateDecision(EXIT_OK, f"gate holds: pass rate {rate:.4f} >= --min-pass-rate {min_pass_rate}")


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotations(summary: dict[str, Any], data_file: str) -> list[str]:
    """`::error` workflow commands for the 10 worst rows (GitHub shows no more per step)."""
    out = []
    for row in summary["worst_rows"]:
        label = f"sft-verify: row {row['id']}" if row["id"] else "sft-verify: invalid row"
        message = "; ".join(row["messages"])
        if len(message) > 900:
            message = message[:899] + "…"
        out.append(
            f"::error file={_escape_property(data_file)},line={row['line']},title={_escape_property(label)}::"
            f"{_escape_data(message)}"
        )
    return out


def write_step_summary(summary: dict[str, Any], decision: GateDecision, path: Path | None = None) -> Path | None:
    """Append the per-check tables to $GITHUB_STEP_SUMMARY, kept under its 1 MiB cap."""
    target = path or (Path(os.environ["GITHUB_STEP_SUMMARY"]) if os.environ.get("GITHUB_STEP_SUMMARY") else None)
    if target is None:
        return None
    text = markdown(summary, heading="## sft-verify") + f"\n**{decision.message}** (exit {decision.code})\n"
    existing = target.stat().st_size if target.exists() else 0
    room = max(0, STEP_SUMMARY_LIMIT - existing)
    encoded = text.encode("utf-8")
    if len(encoded) > room:
        note = "\n\n… summary cut to stay under GitHub's 1 MiB limit; see report.md\n".encode()
        encoded = encoded[: max(0, room - len(note))].decode("utf-8", errors="ignore").encode("utf-8") + note
    with open(target, "ab") as handle:
        handle.write(encoded)
    return target
