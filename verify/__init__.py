"""ptlimits verify: the runners (command line, audit, executors, benchmarks, reports, regress).

``verify`` imports ``core`` and ``properties``; nothing imports ``verify`` back
(docs/design.md). ``python -m verify --help`` starts without importing torch.
"""
