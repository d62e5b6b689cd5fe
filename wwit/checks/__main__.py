"""``python -m wwit.checks NOTEBOOK``: run a notebook's visible tests (see :mod:`.notebook`)."""

import sys

from wwit.checks.notebook import main

sys.exit(main())
