"""From vouched records to token ids and next-token targets, with the model's own chat template.

Rules (each one a trap seen in practice, TRAPS.md):

- The text is what `tokenizer.apply_chat_template` renders, so training and inference format
  conversations the same way.
- Loss covers assistant turns only, every one of them in a multi-turn conversation; system,
  user and tool tokens are context. An assistant turn is located by rendering the conversation
  up to that turn twice, with and without it: the turn is the difference. A template that
  re-renders earlier turns once later ones exist is refused, not guessed at.
- Each span is tokenized on its own (`add_special_tokens=False`), the way inference sees a
  prompt followed by generated tokens; a BOS the tokenizer would add is prepended once, and
  only when the template did not already write it (no double BOS).
- The end-of-turn token (EOS, `<|im_end|>`, ...) is a target: the model must learn to stop.
  When a template ends a turn without any stop token, the tokenizer's EOS is appended to that
  turn. Padding is masked by position later (packing), never by token id, so a pad token
  equal to EOS does not hide the real EOS.
- Over-long examples are dropped (`truncation: drop`, the default: a verified answer cut in
  half is no longer verified) or cut to their first `max_length` tokens (`right`); an
  example left with no target token is dropped. Either way the counts are reported.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from train.errors import TrainError
from verify.records import Record, message_text

IGNORE = -100


@dataclass(frozen=True, slots=True)
class Example:
    """One conversation as model input: `targets[i]` is the token to predict after `input_ids[i]` (or IGNORE)."""

    id: str
    line: int
    input_ids: list[int]
    targets: list[int]
    n_targets: int = field(init=False, repr=False, compare=False)  # counted once: packing reads it per micro-batch

    def __post_init__(self) -> None:
        object.__setattr__(self, "n_targets", sum(1 for target in self.targets if target != IGNORE))

    def __len__(self) -> int:
        return len(self.input_ids)


@dataclass
class DataReport:
    """What happened to the vouched rows on their way to examples."""

    rows: int = 0
    examples: int = 0
    tokens: int = 0
    target_tokens: int = 0
    truncated: list[str] = field(default_factory=list)
    dropped_too_long: list[str] = field(default_factory=list)
    dropped_no_targets: list[str] = field(default_factory=list)
    eos_appended: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "examples": self.examples,
            "tokens": self.tokens,
            "target_tokens": self.target_tokens,
            "truncated": len(self.truncated),
            "dropped_too_long": len(self.dropped_too_long),
            "dropped_no_targets": len(self.dropped_no_targets),
            "eos_appended_turns": self.eos_appended,
            "dropped_ids": (self.dropped_too_long + self.dropped_no_targets)[:20],
        }

    def summary(self, max_length: int) -> str:
        parts = [
            f"{self.examples} of {self.rows} rows become examples ({self.tokens} tokens, {self.target_tokens} targets)"
        ]
        if self.dropped_too_long:
            parts.append(f"{len(self.dropped_too_long)} dropped as longer than {max_length} tokens")
        if self.truncated:
            parts.append(f"{len(self.truncated)} cut to {max_length} tokens")
        if self.dropped_no_targets:
            parts.append(f"{len(self.dropped_no_targets)} dropped with no assistant token left after cutting")
        return "; ".join(parts)


class ChatEncoder:
    """Encodes records with one tokenizer's chat template; see the module docstring for the rules."""

    def __init__(self, tokenizer: Any, max_length: int, truncation: str = "drop", stop_ids: Iterable[int] = ()):
        if not getattr(tokenizer, "chat_template", None):
            raise TrainError(
                "the tokenizer has no chat template, so conversations cannot be formatted the way the model "
                "expects at inference; use an instruct/chat model or add a template to its tokenizer_config.json"
            )
        if tokenizer.eos_token_id is None:
            raise TrainError("the tokenizer has no EOS token: the model could not learn where an answer stops")
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.truncation = truncation
        self.eos_id = int(tokenizer.eos_token_id)
        self.stop_ids = {self.eos_id, *(int(i) for i in stop_ids)}
        self.bos_prefix = self._tokenizer_prefix()

    def _tokenizer_prefix(self) -> list[int]:
        """Ids the tokenizer itself puts before any text (a BOS for Llama-2-style tokenizers, none for ChatML)."""
        with_special = self.tokenizer("a", add_special_tokens=True)["input_ids"]
        plain = self.tokenizer("a", add_special_tokens=False)["input_ids"]
        if plain and with_special[-len(plain) :] == plain:
            return list(with_special[: len(with_special) - len(plain)])
        return []

    def _render(self, messages: list[dict[str, Any]], tools: Any, generation_prompt: bool) -> str:
        kwargs: dict[str, Any] = {"tokenize": False, "add_generation_prompt": generation_prompt}
        if tools:
            kwargs["tools"] = tools
        return self.tokenizer.apply_chat_template(messages, **kwargs)

    def segments(self, record: Record) -> list[tuple[str, bool]]:
        """The rendered conversation as consecutive (text, is_assistant_turn) pieces."""
        messages = [normalise_message(message) for message in record.messages]
        tools = record.extra.get("tools")
        where = f"kept.jsonl:{record.line} (id {record.id})"
        try:
            full = self._render(messages, tools, generation_prompt=False)
            spans = []
            for index, message in enumerate(messages):
                if message["role"] != "assistant":
                    continue
                before = self._render(messages[:index], tools, generation_prompt=True) if index else ""
                after = self._render(messages[: index + 1], tools, generation_prompt=False)
                spans.append((index, before, after))
        except Exception as exc:  # jinja raises its own exception types, e.g. for role alternation
            raise TrainError(f"{where}: the model's chat template cannot render this conversation: {exc}") from exc
        pieces: list[tuple[str, bool]] = []
        cursor = 0
        for index, before, after in spans:
            if not (full.startswith(before) and full.startswith(after) and len(before) < len(after)):
                raise TrainError(
                    f"{where}: the chat template renders message {index} (assistant) differently once later turns "
                    "follow (it rewrites past turns), so its tokens cannot be located; train on single-turn rows "
                    "or use a template that renders turns incrementally"
                )
            start, end = len(before), len(after)
            while end > start and full[end - 1].isspace():
                end -= 1  # the newline after an end-of-turn token is formatting, not something to predict
            if start < cursor:
                raise TrainError(f"{where}: assistant turn {index} overlaps the previous one in the rendered text")
            if start > cursor:
                pieces.append((full[cursor:start], False))
            pieces.append((full[start:end], True))
            cursor = end
        if cursor < len(full):
            pieces.append((full[cursor:], False))
        return pieces

    def tokenize(self, record: Record) -> tuple[list[int], list[bool], int]:
        """(token ids, is-target flags, turns that needed an EOS appended) for the whole conversation."""
        pieces = self.segments(record)
        encoded = self.tokenizer([text for text, _ in pieces], add_special_tokens=False)["input_ids"]
        ids: list[int] = []
        is_target: list[bool] = []
        first_text = pieces[0][0] if pieces else ""
        bos_text = self.tokenizer.bos_token or ""
        if self.bos_prefix and not (bos_text and first_text.startswith(bos_text)):
            ids += self.bos_prefix
            is_target += [False] * len(self.bos_prefix)
        appended = 0
        for (_, assistant), piece_ids in zip(pieces, encoded, strict=True):
            piece_ids = list(piece_ids)
            if assistant and (not piece_ids or piece_ids[-1] not in self.stop_ids):
                piece_ids.append(self.eos_id)
                appended += 1
            ids += piece_ids
            is_target += [assistant] * len(piece_ids)
        return ids, is_target, appended

    def encode(self, record: Record, report: DataReport) -> Example | None:
        """The example for one record, or None when it is dropped (the report says why)."""
        ids, is_target, appended = self.tokenize(record)
        report.eos_appended += appended
        targets = [ids[i + 1] if is_target[i + 1] else IGNORE for i in range(len(ids) - 1)] + [IGNORE]
        if len(ids) > self.max_length:
            if self.truncation == "drop":
                report.dropped_too_long.append(record.id)
                return None
            ids, targets = ids[: self.max_length], targets[: self.max_length]
            report.truncated.append(record.id)
        example = Example(record.id, record.line, ids, targets)
        if example.n_targets == 0:
            report.dropped_no_targets.append(record.id)
            return None
        return example


def normalise_message(message: dict[str, Any]) -> dict[str, Any]:
    """Templates expect string content: join OpenAI content parts, turn a missing content into ''."""
    normalised = dict(message)
    normalised["content"] = message_text(message)
    return normalised


def stop_token_ids(model_path: str, gguf_file: str | None) -> list[int]:
    """Extra end-of-turn ids from the model's generation config (e.g. Llama 3's <|eot_id|>), if it has one."""
    from transformers import GenerationConfig

    try:
        kwargs = {"gguf_file": gguf_file} if gguf_file else {}
        config = GenerationConfig.from_pretrained(model_path, **kwargs)
    except (OSError, ValueError, TypeError):
        return []
    eos = config.eos_token_id
    if eos is None:
        return []
    return [int(eos)] if isinstance(eos, int) else [int(i) for i in eos]


def encode_records(
    records: Iterable[Record], encoder: ChatEncoder, progress: Any = None
) -> tuple[list[Example], DataReport]:
    report = DataReport()
    examples = []
    for record in records:
        report.rows += 1
        example = encoder.encode(record, report)
        if progress is not None:
            progress()
        if example is None:
            continue
        examples.append(example)
        report.examples += 1
        report.tokens += len(example)
        report.target_tokens += example.n_targets
    if not examples:
        raise TrainError(f"no trainable example is left: {report.summary(encoder.max_length)}")
    return examples, report


def split_examples(examples: Sequence[Example], eval_fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """A seeded held-out split by example: (train, eval). At least one example stays on each side when possible."""
    if eval_fraction <= 0 or len(examples) < 2:
        return list(examples), []
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    n_eval = min(max(1, round(len(examples) * eval_fraction)), len(examples) - 1)
    held = set(order[:n_eval])
    train = [example for i, example in enumerate(examples) if i not in held]
    evaluation = [example for i, example in enumerate(examples) if i in held]
    return train, evaluation


def read_vouched(out_dir: Path) -> tuple[list[Record], dict[str, Any]]:
    """All vouched records of a `verify run` output, plus the provenance the trainer records."""
    from verify.manifest import ManifestError, load_manifest, vouched_records

    try:
        manifest = load_manifest(Path(out_dir))
        records = list(vouched_records(Path(out_dir)))
    except ManifestError as exc:
        raise TrainError(str(exc)) from exc
    if not records:
        raise TrainError(f"{out_dir}/kept.jsonl has no rows: `verify run` kept nothing to train on")
    provenance = {
        "run_dir": str(Path(out_dir).resolve()),
        "kept_sha256": manifest["kept"].get("sha256"),
        "kept_rows": manifest["kept"].get("rows"),
        "input": manifest.get("input", {}),
        "verifiers": manifest.get("verifiers"),
        "tool_version": manifest.get("version") or manifest.get("tool_version"),
    }
    return records, provenance
