"""Adapters from the common SFT row shapes to the canonical record (DESIGN.md §1).

Each adapter is a function `row -> canonical dict`; `detect` picks one for a whole file by
looking at its first readable rows, so that one odd row does not switch a file's format.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from verify.records import Record, RecordError

Adapter = Callable[[dict[str, Any]], dict[str, Any]]

SHAREGPT_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "chatgpt": "assistant",
    "bing": "assistant",
    "bard": "assistant",
    "model": "assistant",
    "system": "system",
    "tool": "tool",
    "function": "tool",
    "function_call": "assistant",
    "observation": "tool",
}

# Tulu 3 / RLVR `dataset` values and the check their `ground_truth` feeds.
RLVR_MATH_DATASETS = {"gsm8k", "math", "math_500", "minerva_math", "aime", "numinamath", "open_math"}
RLVR_IFEVAL_DATASETS = {"ifeval", "ifeval_like", "ifevalg", "precise_if"}


def _carry(row: dict[str, Any], consumed: Iterable[str]) -> dict[str, Any]:
    """Fields an adapter did not consume, carried through under their own names."""
    skip = set(consumed)
    return {k: v for k, v in row.items() if k not in skip}


def _merge_checks(row: dict[str, Any], derived: dict[str, Any]) -> dict[str, Any]:
    checks = dict(derived)
    explicit = row.get("checks")
    if isinstance(explicit, dict):
        checks.update(explicit)
    elif explicit is not None:
        raise RecordError(f"'checks' must be an object, got {type(explicit).__name__}")
    return checks


def from_messages(row: dict[str, Any]) -> dict[str, Any]:
    """OpenAI `messages` rows, our canonical shape included: nothing to convert."""
    return row


def from_alpaca(row: dict[str, Any]) -> dict[str, Any]:
    instruction = row.get("instruction")
    output = row.get("output")
    if not isinstance(instruction, str) or not instruction.strip():
        raise RecordError("alpaca row has no 'instruction'")
    if not isinstance(output, str):
        raise RecordError("alpaca row has no 'output' (the response under test)")
    extra_input = row.get("input") or ""
    if not isinstance(extra_input, str):
        raise RecordError("alpaca 'input' must be a string")
    prompt = f"{instruction}\n\n{extra_input}" if extra_input.strip() else instruction
    messages = []
    if isinstance(row.get("system"), str) and row["system"]:
        messages.append({"role": "system", "content": row["system"]})
    messages += [{"role": "user", "content": prompt}, {"role": "assistant", "content": output}]
    out = _carry(row, ("instruction", "input", "output", "system", "checks"))
    out.update(messages=messages, checks=_merge_checks(row, {}))
    return out


def from_sharegpt(row: dict[str, Any]) -> dict[str, Any]:
    turns = row.get("conversations")
    if not isinstance(turns, list) or not turns:
        raise RecordError("sharegpt row has no 'conversations' list")
    messages = []
    for index, turn in enumerate(turns):
        if not isinstance(turn, dict):
            raise RecordError(f"conversations[{index}] must be an object")
        speaker = turn.get("from", turn.get("role"))
        role = SHAREGPT_ROLES.get(str(speaker).lower())
        if role is None:
            raise RecordError(f"conversations[{index}] has unknown speaker {speaker!r}")
        value = turn.get("value", turn.get("content"))
        if not isinstance(value, str):
            raise RecordError(f"conversations[{index}] has no string 'value'")
        messages.append({"role": role, "content": value})
    if isinstance(row.get("system"), str) and row["system"] and messages[0]["role"] != "system":
        messages.insert(0, {"role": "system", "content": row["system"]})
    out = _carry(row, ("conversations", "system", "checks"))
    out.update(messages=messages, checks=_merge_checks(row, {}))
    return out


def rlvr_ifeval_spec(ground_truth: Any) -> dict[str, Any]:
    """Both IFEval ground-truth encodings used by Tulu 3 → a `constraints` spec.

    - open-instruct: `[{"instruction_id": [...], "kwargs": [...]}]` (a list, or its JSON text);
    - RLVR-IFeval: `{"func_name": "verify_…", <kwargs>}` (a dict, or its JSON text). Tulu's
      functions keep their own names under the `tulu:` namespace; the constraints verifier
      decides which map onto IFEval checkers and which keep Tulu's semantics.
    """
    value = ground_truth
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise RecordError(f"ifeval ground_truth is not JSON: {exc.msg} at char {exc.pos}") from exc
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
        value = value[0]
    if isinstance(value, dict) and "instruction_id" in value:
        ids = value["instruction_id"]
        kwargs = value.get("kwargs") or [{} for _ in ids]
        if not isinstance(ids, list) or not isinstance(kwargs, list):
            raise RecordError("ifeval ground_truth: 'instruction_id' and 'kwargs' must be lists")
        return {"instruction_id_list": ids, "kwargs": [k or {} for k in kwargs]}
    if isinstance(value, dict) and "func_name" in value:
        kwargs = {k: v for k, v in value.items() if k != "func_name" and v is not None}
        return {"instruction_id_list": [f"tulu:{value['func_name']}"], "kwargs": [kwargs]}
    raise RecordError("ifeval ground_truth has neither 'func_name' nor 'instruction_id'")


def from_tulu(row: dict[str, Any]) -> dict[str, Any]:
    """Tulu 3 / RLVR rows: `messages` + `ground_truth` + `dataset`."""
    dataset = row.get("dataset")
    if isinstance(dataset, list):  # some RLVR mixes store the dataset name as a 1-item list
        dataset = dataset[0] if dataset else None
    ground_truth = row.get("ground_truth")
    if isinstance(ground_truth, list) and len(ground_truth) == 1 and not isinstance(ground_truth[0], dict):
        ground_truth = ground_truth[0]
    name = str(dataset or "").lower()
    derived: dict[str, Any] = {}
    if name in RLVR_MATH_DATASETS or name.startswith(("math", "gsm8k")):
        if ground_truth is None or ground_truth == "":
            raise RecordError(f"{dataset} row has no 'ground_truth'")
        derived["math"] = {"answer": str(ground_truth)}
    elif name in RLVR_IFEVAL_DATASETS or name.startswith("ifeval"):
        derived["constraints"] = rlvr_ifeval_spec(ground_truth)
    out = _carry(row, ("checks",))
    out["checks"] = _merge_checks(row, derived)
    return out


def from_ifeval(row: dict[str, Any]) -> dict[str, Any]:
    """IFEval rows: `prompt`, `response`, `instruction_id_list`, `kwargs`."""
    prompt = row.get("prompt")
    response = row.get("response")
    if not isinstance(prompt, str):
        raise RecordError("ifeval row has no 'prompt'")
    if response is None:
        response = ""  # IFEval scores a missing response as the empty string
    if not isinstance(response, str):
        raise RecordError("ifeval 'response' must be a string")
    ids = row.get("instruction_id_list")
    if not isinstance(ids, list):
        raise RecordError("ifeval row has no 'instruction_id_list' list")
    kwargs = row.get("kwargs") if row.get("kwargs") is not None else [{} for _ in ids]
    out = _carry(row, ("prompt", "response", "instruction_id_list", "kwargs", "checks", "key"))
    if "id" not in row and "key" in row:
        out["id"] = str(row["key"])
    elif "key" in row:
        out["key"] = row["key"]
    out["messages"] = [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}]
    out["checks"] = _merge_checks(row, {"constraints": {"instruction_id_list": ids, "kwargs": kwargs}})
    return out


def from_humaneval(row: dict[str, Any]) -> dict[str, Any]:
    """HumanEval-style rows: `prompt`, `test`, `entry_point`, `completion` or `response`.

    A `completion` continues the prompt (HumanEval samples), so the prompt is given to the code
    verifier as `prompt_prefix`, which it prepends when the code does not define the entry point.
    """
    prompt, test, entry_point = row.get("prompt"), row.get("test"), row.get("entry_point")
    if not isinstance(prompt, str) or not isinstance(test, str) or not isinstance(entry_point, str):
        raise RecordError("humaneval row needs string 'prompt', 'test' and 'entry_point'")
    response = row.get("completion", row.get("response"))
    if not isinstance(response, str):
        raise RecordError("humaneval row has no 'completion' or 'response'")
    tests = test if f"check({entry_point})" in test else f"{test}\n\ncheck({entry_point})\n"
    spec = {"language": "python", "tests": tests, "entry_point": entry_point, "prompt_prefix": prompt}
    out = _carry(row, ("prompt", "test", "entry_point", "completion", "response", "checks", "task_id"))
    if "id" not in row and "task_id" in row:
        out["id"] = str(row["task_id"])
    elif "task_id" in row:
        out["task_id"] = row["task_id"]
    out["messages"] = [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}]
    out["checks"] = _merge_checks(row, {"code": spec})
    return out


ADAPTERS: dict[str, Adapter] = {
    "messages": from_messages,
    "tulu": from_tulu,
    "sharegpt": from_sharegpt,
    "alpaca": from_alpaca,
    "ifeval": from_ifeval,
    "humaneval": from_humaneval,
}
FORMAT_NAMES = ("auto", *ADAPTERS)


def classify_row(row: Any) -> str | None:
    """The format one row looks like, or None."""
    if not isinstance(row, dict):
        return None
    if "messages" in row and "ground_truth" in row and "dataset" in row:
        return "tulu"
    if "messages" in row:
        return "messages"
    if "conversations" in row:
        return "sharegpt"
    if "instruction" in row and "output" in row:
        return "alpaca"
    if "prompt" in row and "instruction_id_list" in row:
        return "ifeval"
    if "prompt" in row and "test" in row and "entry_point" in row:
        return "humaneval"
    return None


def detect(rows: Iterable[Any]) -> tuple[str, str]:
    """Pick one format for a file from a sample of its parsed rows: (format, explanation)."""
    votes: dict[str, int] = {}
    seen = 0
    for row in rows:
        seen += 1
        kind = classify_row(row)
        if kind:
            votes[kind] = votes.get(kind, 0) + 1
    if not votes:
        return "messages", f"no known shape in the first {seen} rows; reading them as canonical 'messages' rows"
    chosen = max(votes, key=lambda k: votes[k])
    return chosen, f"{votes[chosen]} of the first {seen} rows look like '{chosen}'"


def to_record(row: Any, line: int, adapter: Adapter) -> Record:
    """Apply an adapter and validate the result as a canonical record."""
    if not isinstance(row, dict):
        raise RecordError(f"expected a JSON object, got {type(row).__name__}")
    return Record.from_dict(adapter(row), line)
