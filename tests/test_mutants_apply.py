"""Every semantic mutant still applies to the current source (tools/mutants.py).

A mutant whose text no longer occurs exactly once would make ``python -m tools.mutants``
(and CI's rotating sample) stop with an error instead of testing anything; this catches the
drift in the default tier, without running the suite per mutant.
"""

from __future__ import annotations

import pytest

from tools.mutants import MUTANTS, ROOT


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_mutant_text_occurs_exactly_once(mutant) -> None:  # type: ignore[no-untyped-def]
    source = (ROOT / mutant.path).read_text()
    assert source.count(mutant.old) == 1, f"{mutant.name}: update its text in tools/mutants.py"
    assert mutant.old != mutant.new
