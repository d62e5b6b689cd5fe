"""Instructor tools of "Why won't it train?": release, self-check, grade, demo.

Each verb is one module usable from Python (``autograder.release``, ``autograder.check``,
``autograder.grade``, ``autograder.demo``); ``python -m autograder`` is a thin CLI over them.
"""

__version__ = "0.1.0"
