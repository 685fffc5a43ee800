"""The math verifier: find the final answer in a response and decide whether it equals the gold.

The package is split the way the work flows, so each step can be read and tested alone:

- `extract`   finds the final-answer text in a response (or in a MATH-style gold solution);
- `cleanup`   rewrites that text into one canonical LaTeX-ish spelling (units, separators, wrappers);
- `numbers`   reads plain numbers exactly with `fractions.Fraction`, without sympy;
- `structure` turns the cleaned text into a value tree (sets, tuples, intervals, relations, leaves);
- `symbolic`  converts leaves to sympy and decides symbolic equality (only ever run in a worker);
- `compare`   compares two value trees, gold first, and says why they differ;
- `grade`     ties the steps together; `worker` is what the killable pool runs;
- `verifier`  is the `math` check itself.

Importing this package is cheap: sympy is only imported by `symbolic`, inside the worker processes.
"""
