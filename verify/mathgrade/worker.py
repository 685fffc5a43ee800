"""What a grader worker process runs: the sympy half of grading, under the pool's hard timeout.

The pool's forkserver preloads this module, so sympy and the LaTeX parser are imported once
and every (re)started worker begins warm. Importing it also parses a few typical answers: the
LaTeX parser (ANTLR) learns its prediction tables as it goes, and a table learnt in the
forkserver is inherited by every worker forked from it, including restarts after a kill.
The main process never imports this module.
"""

from __future__ import annotations

from typing import Any

from verify.mathgrade import symbolic
from verify.mathgrade.grade import Settings, decide_symbolic

WARM_UP = (
    r"\frac{x+2}{7}+\sqrt{2}",
    r"x^2+2x-1",
    r"\sqrt[3]{x}^{2}",
    r"\sin^2(y)+\cos x",
    r"10^{\frac{-5+\sqrt{13}}{6}}",
    r"(a+5)(b+2)",
    r"\begin{pmatrix}1 & 2 \\ 3 & 4\end{pmatrix}",
    r"|x-1|",
    r"a_{37}",
    r"f(x)",
    r"2\pi r",
    r"-\frac{2(x^2+6)}{9(x^2-2)}",
)


def _warm_up() -> None:
    for latex in WARM_UP:
        symbolic.to_sympy(latex)
    symbolic.to_sympy.cache_clear()


_warm_up()


def grade_job(payload: dict[str, Any]) -> dict[str, Any]:
    """Decide one case: payload = {gold, pred, method, settings}; returns the outcome dict."""
    return decide_symbolic(payload["gold"], payload["pred"], payload["method"], Settings(**payload["settings"]))
