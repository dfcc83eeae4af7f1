"""``python -m verify``: the ptlimits command line (same as the ``ptlimits`` script)."""

import sys

from .cli import main

sys.exit(main())
