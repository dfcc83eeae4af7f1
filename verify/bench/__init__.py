"""Benchmarks, one module each (``ptlimits bench kernel|train|capacity``):

* :mod:`verify.bench.kernel` — the polynomial-method kernel against exact attention and
  Performer (docs/theory.md §3, K5/K6);
* :mod:`verify.bench.train` — prompt-tuning step time through the kernel against exact;
* :mod:`verify.bench.capacity` — empirical capacity of gradient-trained prompts beside the
  lower bound of docs/theory.md §2 (LB);
* :mod:`verify.bench.common` — timing, device name, slopes, peak memory, threads and the
  atomic JSON write.

Each ``run_*`` function returns the JSON-able report and each ``format_*`` its printed
table; :mod:`verify.cli` parses the options and writes ``--json`` atomically.
"""
