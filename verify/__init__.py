"""ptlimits verify: the runners, each module on one job.

* :mod:`verify.cli` — the one command-line parser (``ptlimits``, ``python -m verify``);
* :mod:`verify.audit` and :mod:`verify.executors` — run the claim registry, where;
* :mod:`verify.report` — load and check ``audit.json``, render Markdown, HTML, figures;
* :mod:`verify.bench` — the kernel, training and capacity benchmarks;
* :mod:`verify.real_models` — the per-head regime of a real transformers model;
* :mod:`verify.regress` — compare two audits; :mod:`verify.files` — atomic writes.

``verify`` imports ``core`` and ``properties``; nothing imports ``verify`` back
(docs/design.md). ``python -m verify --help`` starts without importing torch.
"""
