"""Chat template, assistant-only targets token by token, EOS, BOS, truncation and the held-out split."""

from __future__ import annotations

import pytest

from train.data import IGNORE, ChatEncoder, DataReport, encode_records, split_examples
from train.errors import TrainError
from train.tiny import CHATML_TEMPLATE, arithmetic_rows, tiny_tokenizer
from verify.records import Record


@pytest.fixture(scope="module")
def tokenizer():
    return tiny_tokenizer()


def record(messages, line=1, **extra):
    return Record(id=f"r{line}", line=line, messages=messages, checks={}, extra=extra)


MULTI_TURN = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "What is 12 + 7?"},
    {"role": "assistant", "content": "12 + 7 = 19."},
    {"role": "tool", "content": "19"},
    {"role": "user", "content": "And 19 + 1?"},
    {"role": "assistant", "content": "The answer is 20."},
]


def target_text(tokenizer, example):
    """The text of the tokens the loss covers, in order, split where targets are interrupted."""
    runs, current = [], []
    for position, target in enumerate(example.targets):
        if target == IGNORE:
            if current:
                runs.append(tokenizer.decode(current))
                current = []
            continue
        assert target == example.input_ids[position + 1], "a target must be the next input token"
        current.append(target)
    if current:
        runs.append(tokenizer.decode(current))
    return runs


def test_multi_turn_targets_are_exactly_the_assistant_turns_with_their_end_token(tokenizer):
    encoder = ChatEncoder(tokenizer, 512)
    example = encoder.encode(record(MULTI_TURN), DataReport())
    assert target_text(tokenizer, example) == ["12 + 7 = 19.<|im_end|>", "The answer is 20.<|im_end|>"]
    # Token by token: a position is a target iff the next token lies inside an assistant turn.
    rendered = tokenizer.apply_chat_template(MULTI_TURN, tokenize=False)
    assert tokenizer.decode(example.input_ids) == rendered
    first = rendered.index("12 + 7 = 19.")
    boundary = len(tokenizer("".join(rendered[:first]), add_special_tokens=False)["input_ids"])
    assert example.targets[boundary - 2] == IGNORE  # predicting the generation prompt's last token: context
    assert example.targets[boundary - 1] == example.input_ids[boundary]  # predicting the answer's first token
    assert example.targets[-1] == IGNORE  # nothing follows the last token


def test_system_user_and_tool_tokens_are_never_targets(tokenizer):
    example = ChatEncoder(tokenizer, 512).encode(record(MULTI_TURN), DataReport())
    covered = "".join(target_text(tokenizer, example))
    for text in ("helpful assistant", "What is 12", "And 19 + 1?", "<|im_start|>tool"):
        assert text not in covered


def test_eos_is_trained_even_when_the_pad_token_is_the_eos_token():
    tokenizer = tiny_tokenizer()
    tokenizer.pad_token = tokenizer.eos_token  # SmolLM2's setup: pad == eos == <|im_end|>
    example = ChatEncoder(tokenizer, 512).encode(record(MULTI_TURN[1:3]), DataReport())
    assert example.targets.count(tokenizer.eos_token_id) == 1


def test_a_template_without_an_end_token_gets_the_eos_appended_to_each_turn():
    template = "{% for m in messages %}{{ m['role'] + ': ' + m['content'] + '\n' }}{% endfor %}{% if add_generation_prompt %}assistant: {% endif %}"
    tokenizer = tiny_tokenizer(chat_template=template)
    report = DataReport()
    example = ChatEncoder(tokenizer, 512).encode(record(MULTI_TURN), report)
    assert report.eos_appended == 2
    assert target_text(tokenizer, example) == ["12 + 7 = 19.<|im_end|>", "The answer is 20.<|im_end|>"]


def test_bos_is_added_once_whether_or_not_the_template_writes_it():
    plain = ChatEncoder(tiny_tokenizer(adds_bos=True), 512)
    bos = plain.tokenizer.convert_tokens_to_ids("<s>")
    example = plain.encode(record(MULTI_TURN[1:3]), DataReport())
    assert example.input_ids[0] == bos and example.input_ids.count(bos) == 1

    writes_bos = ChatEncoder(tiny_tokenizer(chat_template="<s>" + CHATML_TEMPLATE, adds_bos=True), 512)
    example = writes_bos.encode(record(MULTI_TURN[1:3]), DataReport())
    assert example.input_ids[0] == bos and example.input_ids.count(bos) == 1


def test_a_template_that_rewrites_past_turns_is_refused():
    # Drops every assistant turn but the last one, like templates that strip past reasoning.
    template = (
        "{% for m in messages %}{% if m['role'] != 'assistant' or loop.last %}"
        "{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n' }}{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    encoder = ChatEncoder(tiny_tokenizer(chat_template=template), 512)
    with pytest.raises(TrainError, match=r"kept.jsonl:7 \(id r7\): the chat template renders message 2"):
        encoder.encode(record(MULTI_TURN, line=7), DataReport())


def test_content_parts_are_joined_before_templating(tokenizer):
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "What is "}, {"type": "text", "text": "2 + 2?"}]},
        {"role": "assistant", "content": "4"},
    ]
    example = ChatEncoder(tokenizer, 512).encode(record(messages), DataReport())
    assert "What is 2 + 2?" in tokenizer.decode(example.input_ids)


def test_over_long_examples_are_dropped_by_default_and_cut_on_request(tokenizer):
    long = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "answer " * 60}]
    report = DataReport()
    assert ChatEncoder(tokenizer, 32).encode(record(long), report) is None
    assert report.dropped_too_long == ["r1"]

    report = DataReport()
    example = ChatEncoder(tokenizer, 32, truncation="right").encode(record(long), report)
    assert len(example) == 32 and report.truncated == ["r1"] and example.n_targets > 0


def test_an_example_cut_before_its_answer_is_dropped_loudly(tokenizer):
    rows = [record([{"role": "user", "content": "word " * 40}, {"role": "assistant", "content": "ok"}])]
    with pytest.raises(
        TrainError, match="no trainable example is left: 0 of 1 rows .* 1 dropped with no assistant token"
    ):
        encode_records(rows, ChatEncoder(tokenizer, 16, truncation="right"))


def test_a_tokenizer_without_a_chat_template_is_refused():
    tokenizer = tiny_tokenizer()
    tokenizer.chat_template = None
    with pytest.raises(TrainError, match="no chat template"):
        ChatEncoder(tokenizer, 64)


def test_the_held_out_split_is_seeded_disjoint_and_complete(tokenizer):
    rows = [Record.from_dict(row, i + 1) for i, row in enumerate(arithmetic_rows(40))]
    examples, report = encode_records(rows, ChatEncoder(tokenizer, 256))
    assert report.examples == 40 and report.target_tokens == sum(e.n_targets for e in examples)
    train, held = split_examples(examples, 0.1, seed=3)
    again, held_again = split_examples(examples, 0.1, seed=3)
    assert [e.id for e in held] == [e.id for e in held_again] and len(held) == 4
    assert {e.id for e in train} | {e.id for e in held} == {e.id for e in examples}
    assert not {e.id for e in train} & {e.id for e in held}
    assert split_examples(examples, 0.0, seed=3) == (examples, [])


@pytest.mark.model
def test_smollm2_template_masks_multi_turn_conversations(smollm2_hf):
    from verify.modelio import load_tokenizer

    tokenizer = load_tokenizer(smollm2_hf)
    example = ChatEncoder(tokenizer, 1024).encode(record(MULTI_TURN), DataReport())
    assert target_text(tokenizer, example) == ["12 + 7 = 19.<|im_end|>", "The answer is 20.<|im_end|>"]
    assert tokenizer.pad_token_id == tokenizer.eos_token_id  # the trap: still trained, since masking is by position
    assert example.targets.count(tokenizer.eos_token_id) == 2
