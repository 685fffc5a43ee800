"""The `translation` check: is a machine translation of an SFT row faithful enough to train on?

Three layers decide, cheapest first: language identification of source and translation
(`langid`), deterministic invariants between them (`invariants`: numbers, code, URLs,
placeholders, markdown and line structure, length ratio, untranslated copies), and
back-translation consistency (`similarity` over a back-translation taken from the record or
produced by a `backends` model). The verifier itself lives in `verifier`; this package
imports nothing heavy at import time because `verify checks` imports every verifier.
"""
