"""Test-only models and helpers: mock models that break things on purpose, synthetic warehouse rows.

Not part of the installed package (pyproject's `packages.find` does not include it): the tests and
the benchmarks import it from a checkout. The offline mock model users configure stays in
`agents.backends.mock`.
"""
