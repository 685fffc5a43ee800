"""The one CommonMark fenced-code-block scanner (verify.markdown) that extraction and translation share."""

from __future__ import annotations

import pytest

from verify.markdown import fenced_blocks


def _contents(text):
    return [(block.info, "\n".join(block.lines), block.closed) for block in fenced_blocks(text)]


def test_spans_locate_the_block_and_its_body():
    text = "Intro\n```python\nx = 1\n```\nafter"
    [block] = fenced_blocks(text)
    assert (block.fence, block.indent, block.info, block.language) == ("```", 0, "python", "python")
    assert text[block.start : block.end] == "```python\nx = 1\n```"
    assert text[block.body_start : block.body_end] == block.raw == "x = 1"
    assert (block.start_line, block.end_line) == (1, 4)
    assert text.split("\n")[block.start_line : block.end_line] == ["```python", "x = 1", "```"]


def test_unclosed_block_runs_to_the_end_of_the_text():
    text = "text\n```py\ndef f():\n    return 1\n"
    [block] = fenced_blocks(text)
    assert not block.closed
    assert block.lines == ("def f():", "    return 1")  # the final newline ends a line, starts none
    assert block.raw == "def f():\n    return 1\n"
    assert (block.end, block.end_line) == (len(text), len(text.split("\n")))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("```\n```", [("", "", True)]),
        ("```", [("", "", False)]),
        ("```\n\n```", [("", "", True)]),
        ("```\n\n\n```", [("", "\n", True)]),
        # the closing fence: same character, at least as long, at most 3 spaces, spaces or tabs after
        ("````\naaa\n```\n``````", [("", "aaa\n```", True)]),
        ("~~~\naaa\n```\n~~~", [("", "aaa\n```", True)]),
        ("```\naaa\n   ```  \t", [("", "aaa", True)]),
        ("```\naaa\n    ```", [("", "aaa\n    ```", False)]),
        ("```\naaa\n\t```", [("", "aaa\n\t```", False)]),
        ("```\n``` aaa\n```", [("", "``` aaa", True)]),
        # the opening fence: at most 3 spaces; a backtick fence's info string has no backtick
        ("    ```\naaa\n```", [("", "", False)]),
        ("``` ```\naaa", []),
        ("```py `x`\naaa\n```", [("", "", False)]),
        ("~~~ aa ``` ~~~\nfoo\n~~~", [("aa ``` ~~~", "foo", True)]),
        ("``", []),
        ("~~\nx\n~~", []),
        # content lines lose up to the opening fence's indentation
        ("   ```\n   aaa\n    aaa\n  aaa\n   ```", [("", "aaa\n aaa\naaa", True)]),
        (" ```\n  aaa\naaa\n```", [("", " aaa\naaa", True)]),
        ("```  ruby startline=3 \nx\n```", [("ruby startline=3", "x", True)]),
    ],
)
def test_commonmark_fence_rules(text, expected):
    assert _contents(text) == expected


def test_crlf_line_endings_and_only_newline_breaks_lines():
    text = "a\r\n```python\r\nx = 1\r\ns = '\u2028\rz'\r\n```\r\nb"
    [block] = fenced_blocks(text)
    assert block.closed and block.info == "python"
    assert block.lines == ("x = 1", "s = '\u2028\rz'")
    assert block.raw == "x = 1\r\ns = '\u2028\rz'\r"
    assert text[block.start : block.end] == "```python\r\nx = 1\r\ns = '\u2028\rz'\r\n```\r"


def test_blocks_come_in_order():
    text = "~~~\none\n~~~\ntext\n```bash\ntwo\n```\n```\nthree"
    assert _contents(text) == [("", "one", True), ("bash", "two", True), ("", "three", False)]
    assert [block.start_line for block in fenced_blocks(text)] == [0, 4, 7]
