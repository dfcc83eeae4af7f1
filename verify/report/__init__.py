"""The audit report: ``audit.json`` checked against ``verify/schema/audit.schema.json``,
rendered as ``audit.md`` and ``audit.html``.

Modules (import the one you need; this package imports none of them, so loading the JSON
inputs never pulls in matplotlib):

* :mod:`verify.report.load` — the schema, report validation, and the JSON inputs ``audit``
  embeds (kernel benchmark, capacity sweep, ``ptlimits regime`` results);
* :mod:`verify.report.tables` — every table as ``(header, rows)`` of formatted cells;
* :mod:`verify.report.markdown`, :mod:`verify.report.html`, :mod:`verify.report.text` — the
  Markdown, HTML and terminal layouts of those tables;
* :mod:`verify.report.plots` — the figures (matplotlib, Agg).
"""
