"""Hand-written regression table for math grading: one row per rule, gold first.

Each row is (gold, response, expected status). Rows run in-process (extraction, the cheap path,
then the sympy path) so the table stays fast; the pool and pathological inputs are covered in
tests/test_math_verifier.py.
"""

from __future__ import annotations

import pytest

from verify.mathgrade.extract import DEFAULT_ORDER, GOLD_ORDER, extract
from verify.mathgrade.grade import Settings, decide_cheap, decide_symbolic


def grade(gold: str, response: str, order: tuple[str, ...] = DEFAULT_ORDER, settings: Settings | None = None) -> dict:
    settings = settings or Settings()
    gold_answer = extract(gold, GOLD_ORDER)
    assert gold_answer is not None, "test gold must not be empty"
    found = extract(response, order)
    if found is None:
        return {"status": "fail", "code": "math.no_answer", "reason": "no final answer found"}
    decided = decide_cheap(gold_answer.text, found.text, found.method, settings)
    return decided if decided is not None else decide_symbolic(gold_answer.text, found.text, found.method, settings)


PASS, FAIL, ERROR = "pass", "fail", "error"

TABLE = [
    # --- extraction conventions
    ("18", "So she has 18. Final Answer: The final answer is $18$. I hope it is correct.", PASS),
    ("18", "Final Answer: The final answer is $17$. I hope it is correct.", FAIL),
    ("\\frac{1}{2}", "Thus $p = \\boxed{\\frac{1}{2}}$.", PASS),
    ("7", "\\fbox{7}", PASS),
    ("4", "First \\boxed{3}, but re-checking the count gives \\boxed{4}.", PASS),
    ("3", "First \\boxed{3}, but re-checking the count gives \\boxed{4}.", FAIL),
    ("1234", "She earns 1,234 dollars.\n#### 1,234", PASS),
    ("42", "Adding them up, the answer is 42.", PASS),
    ("42", "Answer: 42", PASS),
    ("\\{1\\pm\\sqrt{5},-2\\}", "so the answer is $\\boxed{\\{1\\pm\\sqrt{5},-2\\}}.$", PASS),
    ("1, 2", "The roots are \\boxed{1} and \\boxed{2}.", PASS),
    ("2, 3", "\\boxed{1} and and and or thus but \\boxed{2} and \\boxed{3}", PASS),
    ("14916", "In order ... Therefore, $\\boxed{14{,}916}$ is our answer.", PASS),
    ("-3", "Therefore the answer is -3", PASS),
    ("2/3", "Therefore, the probability that Alice wins the game is 2/3.", PASS),
    ("x \\ge 5", "Therefore $x \\geq 5$ is the solution.", PASS),
    ("13", "<think>so the final answer is 13. Wait, recount: 14.</think> The count is \\boxed{14}.", FAIL),
    ("14", "<think>so the final answer is 13. Wait, recount: 14.</think> The count is \\boxed{14}.", PASS),
    # --- numbers
    ("7425000", "\\boxed{7,425,000}", PASS),
    ("1000", "\\boxed{1 000}", PASS),
    ("0.4", "\\boxed{.4}", PASS),
    ("1000", "\\boxed{1000.0}", PASS),
    ("3128.5", "\\boxed{3128 1/2}", PASS),
    ("918.5", "\\boxed{918\\frac{1}{2}}", PASS),
    ("0,111", "\\boxed{0.111}", PASS),
    ("0", "\\boxed{-0}", PASS),
    ("33", "\\boxed{033}", PASS),
    ("56017895760", "\\boxed{56,\\!01,\\!78,\\!95,\\!760}", PASS),
    ("1500", "\\boxed{1.5 \\times 10^{3}}", PASS),
    ("0.002", "\\boxed{2e-3}", PASS),
    ("5", "\\boxed{5.001}", FAIL),
    ("4", "\\boxed{4.0004}", FAIL),
    ("2", "\\boxed{200}", FAIL),
    ("5847", "\\boxed{5846}", FAIL),
    # --- rounded decimals
    ("4.123105625617661", "\\boxed{\\sqrt{17}}", PASS),
    ("33.3", "\\boxed{\\frac{100}{3}}", PASS),
    ("0.5", "\\boxed{\\frac{27}{50}}", FAIL),
    ("0.3", "\\boxed{\\frac{1}{3}}", FAIL),
    ("\\frac{1}{3}", "\\boxed{0.33}", FAIL),
    ("\\frac{1}{12}", "\\boxed{0.0833333333333333}", PASS),
    ("7.78", "\\boxed{7.7778}", FAIL),
    ("\\pi", "\\boxed{3.14}", FAIL),
    # --- percent
    ("25\\%", "\\boxed{25}", PASS),
    ("25\\%", "\\boxed{0.25}", PASS),
    ("25\\%", "\\boxed{2500}", FAIL),
    ("50", "\\boxed{50\\%}", PASS),
    ("0.5", "\\boxed{50\\%}", PASS),
    ("28\\%", "$\\boxed{28 percent}", PASS),
    ("10\\%", "\\boxed{1}", FAIL),
    # --- radicals, pi, e, symbolic
    ("\\frac{\\sqrt{3}}{3}", "\\boxed{\\frac{1}{\\sqrt{3}}}", PASS),
    ("2\\sqrt{2}", "\\boxed{\\sqrt{8}}", PASS),
    ("\\frac{5\\sqrt{42}}{27}", "\\boxed{\\frac{10\\sqrt{10.5}}{27}}", PASS),
    ("\\frac{9}{4}\\pi", "\\boxed{\\frac94\\pi}", PASS),
    ("1-\\frac{1}{e}", "\\boxed{1+\\frac{1}{e}}", FAIL),
    ("\\frac{1}{2006!}", "\\boxed{\\frac{1}{2004!}}", FAIL),
    ("1", "The answer is $1 - \\sqrt{2}$", FAIL),
    ("x^2+2x+1", "\\boxed{(x+1)^2}", PASS),
    ("x+2n+1", "\\boxed{x+1}", FAIL),
    ("|x|", "\\boxed{x}", FAIL),
    ("\\tan^2(y)+1", "\\boxed{\\sec^2(y)}", PASS),
    ("(a+5)(b+2)", "\\boxed{(+5)(b+2)}", FAIL),
    ("10^{10^{10}}", "\\boxed{10**10**10}", PASS),
    ("E", "\\boxed{E'}", FAIL),
    # --- units and words around numbers
    ("18", "\\boxed{18 \\text{ cm}^2}", PASS),
    ("15\\mbox{ cm}^2", "\\boxed{15}", PASS),
    ("\\$10", "\\boxed{10 \\text{ dollars}}", PASS),
    ("125", "The distance is $\\boxed{125\\textnormal{ miles}}.$", PASS),
    ("90^\\circ", "\\boxed{90}", PASS),
    ("4t", "\\boxed{4t}", PASS),
    ("4t", "\\boxed{4}", FAIL),
    # --- several answers, sets, tuples
    ("1, 2", "\\boxed{2, 1}", PASS),
    ("\\{1,2\\}", "\\boxed{2,1}", PASS),
    ("6", "\\boxed{6, 6}", PASS),
    ("\\{1,2\\}", "\\boxed{\\{1,2,3\\}}", FAIL),
    ("(1,2)", "\\boxed{(2,1)}", FAIL),
    ("(3,1)", "\\boxed{\\{1,3\\}}", FAIL),
    ("(1,\\frac{9}{2})", "\\boxed{(1,4.5)}", PASS),
    ("(p,q)=(3,2)", "\\boxed{(3, 2)}", PASS),
    ("p=5,q=2;p=7,q=2", "\\boxed{(5,2),(7,2)}", PASS),
    ("a_3 = 2, a_{37} = 19", "\\boxed{a_{37} = 19, \\quad a_3 = 2}", PASS),
    ("a_3 = 2, a_{37} = 19", "\\boxed{a_{37} = 2, \\quad a_3 = 19}", FAIL),
    ("AB=4,CD=5", "\\boxed{4, 5}", PASS),
    ("\\pm 2021", "\\boxed{\\{-2021, 2021\\}}", PASS),
    ("\\pm 2021", "\\boxed{2021}", FAIL),
    ("1 \\pm \\sqrt{19}", "\\boxed{1+\\sqrt{19}, 1-\\sqrt{19}}", PASS),
    ("\\sqrt{67},-\\sqrt{85}", "\\boxed{\\sqrt{67}}", FAIL),
    # --- intervals
    ("[1,2)", "\\boxed{(1,2)}", FAIL),
    ("(0,1)", "\\boxed{0<x<1}", PASS),
    ("x \\in [-2,7]", "\\boxed{-2 \\le x \\le 7}", PASS),
    ("(-\\infty, 3)", "\\boxed{x<3}", PASS),
    ("x \\ne 3", "\\boxed{(-\\infty,3)\\cup(3,\\infty)}", PASS),
    ("[-1, -\\frac{1}{2}) \\cup (-\\frac{1}{2}, 0)", "\\boxed{[-1, -\\tfrac12) \\cup (-\\tfrac12, 0)}", PASS),
    ("[0,1)", "Final Answer: The final answer is $(0, 1)$. I hope it is correct.", FAIL),
    (
        "1\\leq|z|\\leq \\frac{3}{2}",
        "\\boxed{z \\in \\left[-\\frac{3}{2}, -1\\right] \\cup \\left[1, \\frac{3}{2}\\right]}",
        PASS,
    ),
    ("(-\\infty,\\infty)", "\\boxed{\\mathbb{R}}", PASS),
    ("(-\\infty, 2) \\cup (3, \\infty)", "\\boxed{(-inf, 2) U (3, infinity)}", PASS),
    ("(-\\infty, 2) \\cup (3, \\infty)", "\\boxed{(-inf, 2) U [3, infinity)}", FAIL),
    ("2\\pi", "The answer is 2 pi.", PASS),
    # --- matrices
    ("\\begin{pmatrix}0&0\\\\0&1\\end{pmatrix}", "\\boxed{\\begin{bmatrix} 0 & 0 \\\\ 0 & 1 \\end{bmatrix}}", PASS),
    ("\\begin{pmatrix}0&0\\\\0&1\\end{pmatrix}", "\\boxed{\\begin{pmatrix}0&0\\\\1&1\\end{pmatrix}}", FAIL),
    ("\\begin{pmatrix}1&2\\end{pmatrix}", "\\boxed{\\begin{pmatrix}1\\\\2\\end{pmatrix}}", FAIL),
    (
        "\\begin{pmatrix}6 & 8 \\\\ 10 & 12\\end{pmatrix}",
        "The sum is $\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix} + \\begin{pmatrix}5 & 6 \\\\ 7 & 8\\end{pmatrix}$",
        PASS,
    ),
    # --- equations and relations
    ("3", "\\boxed{x=3}", PASS),
    ("x=3", "\\boxed{3}", PASS),
    ("2x+z=1", "\\boxed{1}", FAIL),
    ("7 = 11a+c", "\\boxed{11a+c}", FAIL),
    ("2x+4y-3=0", "\\boxed{y=-\\frac{1}{2}x+\\frac{3}{4}}", PASS),
    ("x^2/4 + y^2/3 = 1", "\\boxed{x^2/16 + y^2/12 = 1/4}", PASS),
    ("x+y=1", "\\boxed{x-y=1}", FAIL),
    ("105", "\\boxed{35 + 70 = 105}", PASS),
    ("x=11", "\\boxed{x = 5+5+1 = 7 = 11}", PASS),
    ("x < 1", "\\boxed{-x > -1}", PASS),
    ("x < 1", "\\boxed{x > -1}", FAIL),
    ("\\frac{\\sqrt{3}}{3}", "\\boxed{\\frac{\\sqrt{3}}{3} \\approx 0.577}", PASS),
    ("\\frac{\\sqrt{3}}{3}", "\\boxed{\\frac{\\sqrt{3}}{3} \\approx 1.577}", FAIL),
    ("\\frac{1}{3}", "\\boxed{x = \\frac{1}{3} \\approx 0.33}", PASS),
    ("\\frac{1}{3}", "\\boxed{x = \\frac{1}{3} \\approx 1.3}", FAIL),
    ("f(2) < f(1) < f(4)", "\\boxed{f(2) < f(2) < f(4)}", FAIL),
    ("\\frac{1}{2}", "\\boxed{(\\frac{1}{2}]}", FAIL),
    ("11:21", "\\boxed{V_1:V_2 = 11:21}", PASS),
    # --- choices, yes/no, words, times, bases
    ("C", "\\boxed{\\text{(C)}}", PASS),
    ("C", "The correct option is \\boxed{D}", FAIL),
    ("C", "\\boxed{C. x = 42}", PASS),
    ("Yes", "\\boxed{\\text{yes}}", PASS),
    ("yes", "\\boxed{no}", FAIL),
    ("\\text{odd}", "\\boxed{odd}", PASS),
    ("odd", "\\boxed{\\text{oddd}}", FAIL),
    ("\\text{Evelyn}", "Therefore, $\\boxed{\\text{Evelyn}}$ is our answer.", PASS),
    ("\\text{4:30 p.m.}", "\\boxed{4:30 \\text{ p.m.}}", PASS),
    ("4:30 p.m.", "\\boxed{4:30 a.m.}", FAIL),
    ("12:00", "\\boxed{1:00}", FAIL),
    ("204_5", "\\boxed{204_5}", PASS),
    ("1112112_3", "\\boxed{1112122_3}", FAIL),
]


@pytest.mark.parametrize(("gold", "response", "expected"), TABLE, ids=[f"{i:03d}" for i in range(len(TABLE))])
def test_regression_table(gold: str, response: str, expected: str) -> None:
    result = grade(gold, response)
    assert result["status"] == expected, f"{result['code']}: {result['reason']}"


def test_mismatch_reason_names_the_extraction() -> None:
    result = grade("5847", "so \\boxed{5846}")
    assert (result["status"], result["code"]) == ("fail", "math.mismatch")
    assert result["reason"] == "extracted 5846 (boxed); gold 5847"
    assert result["details"]["extracted"] == "5846" and result["details"]["method"] == "boxed"


def test_interval_reason_says_which_brackets_differ() -> None:
    result = grade("[1,2)", "\\boxed{(1,2)}")
    assert result["reason"] == "gold is an interval [1,2), answer (1,2) (extracted by boxed)"


def test_pass_reason_shows_both_sides() -> None:
    result = grade("18", "Final Answer: The final answer is $18$. I hope it is correct.")
    assert (result["code"], result["reason"]) == ("math.equal", "18 = 18 (final answer)")


def test_missing_set_members_are_named() -> None:
    result = grade("\\{1,2\\}", "\\boxed{\\{1,2,3\\}}")
    assert result["reason"] == "not in the gold: 3 (extracted by boxed)"


def test_unreadable_gold_is_an_error_not_a_fail() -> None:
    result = grade("\\frac{1}{", "\\boxed{5}")
    assert (result["status"], result["code"]) == ("error", "math.bad_gold")


def test_unreadable_answer_is_its_own_fail() -> None:
    result = grade("x+1", "\\boxed{\\frac{x}{}+}")
    assert (result["status"], result["code"]) == ("fail", "math.unreadable")


def test_last_number_fallback_only_when_asked() -> None:
    response = "We add 3 apples to 4 apples and get 7 apples in all, I think"
    assert grade("7", response)["code"] == "math.no_answer"
    assert grade("7", response, order=("boxed", "last_number"))["status"] == PASS


def test_extraction_order_is_configurable() -> None:
    response = "The answer is 3. Later: \\boxed{4}"
    assert grade("3", response, order=("answer_is", "boxed"))["status"] == PASS
    assert grade("3", response, order=("boxed", "answer_is"))["status"] == FAIL


def test_ordered_setting_makes_lists_ordered() -> None:
    assert grade("1, 2", "\\boxed{2, 1}", settings=Settings(ordered=True))["status"] == FAIL
    assert grade("1, 2", "\\boxed{1, 2}", settings=Settings(ordered=True))["status"] == PASS


def test_relative_tolerance_setting() -> None:
    assert grade("3.14", "\\boxed{3.1416}")["status"] == FAIL
    assert grade("3.14", "\\boxed{3.1416}", settings=Settings(rel_tol=0.001))["status"] == PASS


def test_gold_may_be_a_full_solution() -> None:
    gold = "Since $x=1/5$, the percentage is $\\boxed{20}$ percent."
    assert grade(gold, "\\boxed{20}")["status"] == PASS


def test_conclusion_needs_a_single_unnegated_candidate() -> None:
    assert grade("10", "so the number is not 10 which is 1,000.99")["code"] == "math.no_answer"
    assert (
        grade("13", "Therefore we have 3 birds and 10 storks, 13 in all, or 14 with the owl")["code"]
        == "math.no_answer"
    )
