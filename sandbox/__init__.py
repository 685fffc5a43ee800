"""The code sandbox: a warm pool of hardened Docker containers and the `code` verifier.

Modules: `verifier` (the check), `spec` (reading its spec), `extract` (which code runs),
`jobs` / `outcome` (job messages and verdicts), `pool` / `engine` / `local` (workers),
`channel` (the JSON-line protocol), `runner` / `harness` (what runs inside a container),
`image` / `doctor` / `cli` (`verify sandbox build | doctor | clean`).
"""
