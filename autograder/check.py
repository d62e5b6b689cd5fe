"""``check``: a student's self-check of one notebook, with the visible tests only.

The same code as the student kit's ``python -m wwit.checks`` (:mod:`wwit.checks.notebook`).
"""

from wwit.checks.notebook import CheckReport, check, main

__all__ = ["CheckReport", "check", "main"]
