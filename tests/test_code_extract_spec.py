"""Which code runs (markdown extraction, HumanEval prefix) and how a spec is read. No Docker."""

from __future__ import annotations

import pytest

from sandbox.extract import defines, extract_code, fenced_blocks, with_prompt_prefix
from sandbox.spec import SpecError, parse_spec

RESPONSE = """Here is a helper:

```python
def helper():
    return 1
```

Example run:

```bash
python main.py
```

And the solution:

```py
def solve():
    return helper() + 1
```
"""


def test_last_python_block_by_default():
    extraction = extract_code(RESPONSE)
    assert extraction.code == "def solve():\n    return helper() + 1\n"
    assert extraction.how == "the last of 2 python blocks"
    assert not extraction.whole_response


@pytest.mark.parametrize(
    ("rule", "expected_start", "how"),
    [
        ("first", "def helper", "the first of 2 python blocks"),
        ("longest", "def solve", "the longest of 2 python blocks"),
        ("all", "def helper", "all 2 python blocks"),
    ],
)
def test_block_rules(rule, expected_start, how):
    extraction = extract_code(RESPONSE, rule)
    assert extraction.code.startswith(expected_start)
    assert extraction.how == how


def test_all_joins_blocks_in_order():
    code = extract_code(RESPONSE, "all").code
    assert code.index("def helper") < code.index("def solve")
    assert "python main.py" not in code


def test_untagged_blocks_count_only_without_python_blocks():
    text = "```\nx = 1\n```\n\n```text\nnot code\n```\n"
    assert extract_code(text).code == "x = 1\n"
    assert extract_code(text).how == "the last of 1 untagged block"


def test_other_languages_never_run():
    extraction = extract_code("```bash\nrm -rf /\n```\n")
    assert extraction.code == ""
    assert extraction.how == "no python block (only bash blocks)"


def test_no_fence_takes_the_whole_response():
    extraction = extract_code("    return a + b\n")
    assert extraction.code == "    return a + b\n"
    assert extraction.how == "the whole response (it has no fenced code block)"
    assert extraction.whole_response


def test_unclosed_block_runs_to_the_end():
    assert extract_code("text\n```python\ndef f():\n    return 1\n").code == "def f():\n    return 1\n"


def test_tilde_fences_and_longer_closing_fence():
    blocks = fenced_blocks("~~~python\na = 1\n~~~~\n````python\nb = '```'\n```\nc = 2\n````\n")
    assert [block.code for block in blocks] == ["a = 1\n", "b = '```'\n```\nc = 2\n"]


def test_tilde_fence_info_string_may_hold_backticks():
    # CommonMark forbids backticks only in a backtick fence's info string
    assert extract_code("~~~python title=`main.py`\nprint(1)\n~~~\n").code == "print(1)\n"
    assert extract_code("```python `x`\nprint(1)\n```\n").how == "the last of 1 untagged block"


def test_closing_fence_indented_four_spaces_is_code():
    assert extract_code('```python\nx = """\n    ```\n"""\n```\n').code == 'x = """\n    ```\n"""\n'


def test_indented_fence_content_loses_the_fence_indent():
    response = "1. Solution:\n\n   ```python\n   def f():\n       return 1\n   ```\n"
    assert extract_code(response).code == "def f():\n    return 1\n"


def test_only_newline_breaks_lines():
    response = "```python\r\ns = 'a\u2028b\x0cc'\r\n```\r\n"
    assert extract_code(response).code == "s = 'a\u2028b\x0cc'\n"


def test_defines_and_prompt_prefix():
    assert defines("def add(a, b):\n    pass\n", "add")
    assert defines("async def add():\n    pass\n", "add")
    assert defines("add = lambda a, b: a + b\n", "add")
    assert not defines("def adder():\n    pass\n", "add")
    prefix = "def add(a, b):\n    \"\"\"Add.\"\"\"\n"
    assert with_prompt_prefix("    return a + b\n", prefix, "add") == (prefix + "    return a + b\n", True)
    assert with_prompt_prefix("def add(a, b):\n    return a + b\n", prefix, "add")[1] is False
    assert with_prompt_prefix("    return a + b\n", None, "add")[1] is False


def parse(spec):
    return parse_spec(spec, max_timeout_s=60, max_memory_mb=1024)


def test_script_call_and_stdio_specs():
    script = parse({"language": "python", "tests": "assert f(1) == 2\n", "entry_point": "f", "timeout_s": 3})
    assert (script.mode, script.entry_point, script.timeout_s) == ("script", "f", 3.0)
    call = parse({"tests": [{"args": [1], "expected": 2}, {"kwargs": {"x": 1}, "expected": [1]}], "entry_point": "f"})
    assert call.mode == "call" and call.calls[1].kwargs == '{"x": 1}' and call.calls[0].kwargs == "{}"
    stdio = parse({"language": "Python3", "tests": [{"stdin": "1 2\n", "stdout": "3\n"}, {"stdout": "x"}]})
    assert stdio.mode == "program" and stdio.stdio[1].stdin == "" and stdio.case_count == 2


@pytest.mark.parametrize(
    ("spec", "code", "message"),
    [
        ({"language": "rust", "tests": "x"}, "code.unsupported_language", "language 'rust' is not supported; only python runs in the sandbox"),
        ({"language": "python"}, "code.bad_spec", "checks.code has no 'tests'"),
        ({"tests": "assert True", "entrypoint": "f"}, "code.bad_spec", "checks.code has unknown field(s) entrypoint"),
        ({"tests": 3}, "code.bad_spec", "checks.code.tests must be a string or a list of cases, got int"),
        ({"tests": "  "}, "code.bad_spec", "checks.code.tests is an empty script"),
        ({"tests": []}, "code.bad_spec", "checks.code.tests is an empty list"),
        ({"tests": [{"args": [1], "expected": 1}]}, "code.bad_spec", "call-based tests need checks.code.entry_point"),
        ({"tests": [{"stdin": "1"}]}, "code.bad_spec", "checks.code.tests[0] has no 'stdout'"),
        ({"tests": [{"stdin": 1, "stdout": "1"}]}, "code.bad_spec", "checks.code.tests[0].stdin and .stdout must be strings"),
        ({"tests": [{"input": "1", "stdout": "1"}]}, "code.bad_spec", "checks.code.tests[0] has unknown field(s) input"),
        ({"tests": "assert 1", "timeout_s": 0}, "code.bad_spec", "checks.code.timeout_s must be a positive number, got 0"),
        ({"tests": "assert 1", "timeout_s": "5"}, "code.bad_spec", "checks.code.timeout_s must be a positive number, got '5'"),
        ({"tests": "assert 1", "timeout_s": 600}, "code.bad_spec", "checks.code.timeout_s 600 exceeds the verifier's ceiling 60"),
        ({"tests": "assert 1", "memory_mb": 4096}, "code.bad_spec", "checks.code.memory_mb 4096 exceeds the verifier's ceiling 1024"),
        ({"tests": "assert 1", "entry_point": "not valid"}, "code.bad_spec", "checks.code.entry_point 'not valid' is not a Python identifier"),
        ("tests", "code.bad_spec", "checks.code must be an object, got str"),
    ],
)
def test_bad_specs_name_the_field(spec, code, message):
    with pytest.raises(SpecError) as caught:
        parse(spec)
    assert caught.value.code == code
    assert str(caught.value).startswith(message)
