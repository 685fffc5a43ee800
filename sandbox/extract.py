"""Which code of a response gets run: fenced-block extraction and the HumanEval prompt prefix.

Rules (documented in docs/sandbox.md):
- Fenced blocks follow CommonMark (verify/markdown.py, shared with the translation check):
  they open with ``` or ~~~ (at most 3 spaces of indent) and close with a fence of the
  same character at least as long (at most 3 spaces of indent, only spaces or tabs after
  it); a block left open at the end of the response (a truncated generation) runs to the
  end. Content lines lose up to the opening fence's indent, so a fence indented in a list
  still runs.
- Python blocks are those whose info string is `python`, `py`, `python3` (any case). When a
  response has python blocks, only they count; otherwise blocks with no info string count;
  blocks tagged with another language (```bash, ```text) never do.
- `block` picks among them: `last` (default: SFT answers usually end with the final
  program), `first`, `longest`, or `all` (joined with blank lines, for answers that split
  helpers and the solution).
- A response without any fence is taken whole as code (raw completions, HumanEval samples).
- When the spec names an `entry_point` the code does not define and the spec carries a
  `prompt_prefix` (HumanEval), the prefix is prepended: the completion continues the prompt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from verify import markdown

BlockRule = Literal["last", "first", "longest", "all"]
BLOCK_RULES: tuple[str, ...] = ("last", "first", "longest", "all")
PYTHON_TAGS = {"python", "py", "python3"}


@dataclass(frozen=True)
class Block:
    language: str
    code: str


@dataclass(frozen=True)
class Extraction:
    code: str
    how: str  # where the code came from, for people (reports and reasons)
    whole_response: bool = False  # no fenced block: the whole response is the code


def fenced_blocks(text: str) -> list[Block]:
    """Every fenced block of a markdown text, in order (found by verify.markdown), as code:
    its content lines, each ending in a newline."""
    return [
        Block(block.language, "".join(f"{line}\n" for line in block.lines)) for block in markdown.fenced_blocks(text)
    ]


def extract_code(response: str, rule: BlockRule = "last") -> Extraction:
    """The code to run from a response, and a phrase saying where it came from."""
    blocks = fenced_blocks(response)
    if not blocks:
        return Extraction(response, "the whole response (it has no fenced code block)", whole_response=True)
    python = [block for block in blocks if block.language in PYTHON_TAGS]
    candidates = python or [block for block in blocks if not block.language]
    kind = "python" if python else "untagged"
    if not candidates:
        languages = sorted({block.language for block in blocks})
        return Extraction("", f"no python block (only {', '.join(languages)} blocks)")
    count = len(candidates)
    plural = "s" if count > 1 else ""
    if rule == "all":
        return Extraction("\n\n".join(block.code for block in candidates), f"all {count} {kind} block{plural}")
    if rule == "first":
        return Extraction(candidates[0].code, f"the first of {count} {kind} block{plural}")
    if rule == "longest":
        longest = max(candidates, key=lambda block: len(block.code))
        return Extraction(longest.code, f"the longest of {count} {kind} block{plural}")
    return Extraction(candidates[-1].code, f"the last of {count} {kind} block{plural}")


def defines(code: str, name: str) -> bool:
    """Does the code bind `name` at the top level (def, async def, class or assignment)?"""
    pattern = rf"^(?:async\s+def|def|class)\s+{re.escape(name)}\b|^{re.escape(name)}\s*(?::[^=]*)?="
    return re.search(pattern, code, re.MULTILINE) is not None


def with_prompt_prefix(code: str, prefix: str | None, entry_point: str | None) -> tuple[str, bool]:
    """Prepend the HumanEval prompt when the code continues it; (code, prefix was used)."""
    if not prefix or not entry_point or defines(code, entry_point):
        return code, False
    return prefix + code, True
