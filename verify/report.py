"""report.json and report.md: counts per outcome and per check, top reasons, timings.

The report states whether the line counts add up (kept + rejected + errors + unchecked +
invalid + blank + unchanged = input lines), so a reader never has to trust that they do.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from verify.outcome import OUTCOMES

if TYPE_CHECKING:
    from verify.pipeline import RunResult

TOP_REASONS = 10


def summary(result: RunResult) -> dict[str, Any]:
    """The run's summary as plain data: report.json's body and `--json`'s output."""
    stats = result.stats
    counted = stats.rows + stats.blank + stats.unchanged
    checks: dict[str, Any] = {}
    for name in sorted(stats.checks):
        check = stats.checks[name]
        reasons = sorted(check.reasons.items(), key=lambda item: (-item[1].count, item[0]))[:TOP_REASONS]
        checks[name] = {
            "version": check.version,
            "total": check.total,
            **check.counts,
            "cached": check.cached,
            "seconds": round(check.seconds, 3),
            "top_reasons": [
                {"code": code, "count": r.count, "example": r.example, "example_line": r.line} for code, r in reasons
            ],
        }
        if name in result.unavailable:
            checks[name]["unavailable"] = result.unavailable[name]
    invalid = sorted(stats.invalid_reasons.items(), key=lambda item: (-item[1].count, item[0]))
    return {
        "input_lines": result.input_lines,
        "format": result.format,
        "format_reason": result.format_reason,
        "counts": {**stats.outcomes, "blank": stats.blank, "unchanged": stats.unchanged},
        "adds_up": counted == result.input_lines,
        "rows": stats.rows,
        "checks": checks,
        "invalid_reasons": [
            {"code": code, "count": r.count, "example": r.example, "example_line": r.line} for code, r in invalid
        ],
        "unavailable": result.unavailable,
        "worst_rows": stats.worst_rows(),
        "seconds": round(result.seconds, 3),
        "rows_per_second": round(stats.rows / result.seconds, 1) if result.seconds > 0 else None,
    }


def markdown(data: dict[str, Any], heading: str = "# sft-verify report") -> str:
    counts = data["counts"]
    lines = [heading, ""]
    lines.append(f"Input: {data['input_lines']} lines, format `{data['format']}` ({data['format_reason']}).")
    lines.append("")
    lines.append("| outcome | rows |")
    lines.append("| --- | ---: |")
    for outcome in (*OUTCOMES, "blank", "unchanged"):
        if outcome in ("blank", "unchanged") and not counts[outcome]:
            continue
        lines.append(f"| {outcome} | {counts[outcome]} |")
    verdict = "add up to" if data["adds_up"] else "DO NOT add up to"
    lines += ["", f"The counts {verdict} the {data['input_lines']} input lines.", ""]
    if data["checks"]:
        lines += ["| check | version | pass | fail | error | skip | cached | seconds |",
                  "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for name, check in data["checks"].items():
            lines.append(
                f"| {name} | {check['version']} | {check['pass']} | {check['fail']} | {check['error']} | "
                f"{check['skip']} | {check['cached']} | {check['seconds']} |"
            )
        lines.append("")
    for name, check in data["checks"].items():
        if check["top_reasons"]:
            lines += [f"## {name}: top reasons", "", "| reason | rows | example (line) |", "| --- | ---: | --- |"]
            for reason in check["top_reasons"]:
                lines.append(f"| `{reason['code']}` | {reason['count']} | {_cell(reason['example'])} ({reason['example_line']}) |")
            lines.append("")
        if "unavailable" in check:
            lines += [f"**{name} was unavailable:** {check['unavailable']}", ""]
    if data["invalid_reasons"]:
        lines += ["## invalid rows", "", "| reason | rows | example (line) |", "| --- | ---: | --- |"]
        for reason in data["invalid_reasons"]:
            lines.append(f"| `{reason['code']}` | {reason['count']} | {_cell(reason['example'])} ({reason['example_line']}) |")
        lines.append("")
    if data.get("seconds") is not None:
        lines.append(f"Took {data['seconds']} s ({data['rows_per_second']} rows/s).")
    return "\n".join(lines) + "\n"


def _cell(text: str, limit: int = 160) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def write_reports(result: RunResult, header: dict[str, Any]) -> dict[str, Any]:
    data = {"tool_version": header["tool_version"], "input": header["input"], **summary(result)}
    (result.out_dir / "report.json").write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (result.out_dir / "report.md").write_text(markdown(data), encoding="utf-8")
    return data
