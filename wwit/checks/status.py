"""The one vocabulary of test statuses: what a self-check, the grader, the reports and the
feedback call the outcome of a test, with its colour and its meaning for a student.

Public (it ships in the student kit): ``make check`` and the grader's feedback say the same words.
A :class:`Status` is a ``str`` (``Status.PASSED == "passed"``), so it is stored and compared as
plain text in reports, JSON and the gradebook.
"""

from __future__ import annotations

from enum import Enum


class Status(str, Enum):
    """The outcome of one test cell.

    Each member's value is its label; ``colour`` is the one used by the plots and HTML pages,
    ``explanation`` what it means, in plain words for a student.
    """

    PASSED = ("passed", "#2e7d32",
              "your code gave the right result on every check")
    FAILED = ("failed", "#c62828",
              "your code ran but gave a wrong result")
    NOT_ATTEMPTED = ("not attempted", "#bdbdbd",
                     "the answer cell still raises NotImplementedError: write your code there")
    ERROR = ("error", "#ef6c00",
             "your code raised an exception (an error) while being checked")
    TIMEOUT = ("timeout", "#8e24aa",
               "your code ran longer than the time limit")
    CRASHED = ("crashed", "#6d4c41",
               "the Python process running your notebook stopped unexpectedly")
    OUT_OF_MEMORY = ("out-of-memory", "#00838f",
                     "your code used more memory than allowed")
    TAMPERED = ("tampered", "#212121",
                "a test cell was edited, or your code changed something it must not touch")
    MISSING = ("missing", "#9e9e9e",
               "the notebook was not found in your submission")
    UNREADABLE = ("unreadable", "#a07800",
                  "the notebook file could not be opened (it is not a valid notebook)")
    NOT_RUN = ("not run", "#757575",
               "the test cell was never executed (the notebook stopped before it)")

    def __new__(cls, label: str, colour: str, explanation: str) -> Status:
        member = str.__new__(cls, label)
        member._value_ = label
        member.colour = colour
        member.explanation = explanation
        return member

    def __str__(self) -> str:
        return self.value

    # Hash as the label (Enum hashes the member name), so that a status and its label are the
    # same key in a dict or a set: reports read back from JSON hold plain strings.
    __hash__ = str.__hash__


#: Statuses a self-check reports (``make check``).
SELF_CHECK = (Status.PASSED, Status.FAILED, Status.NOT_ATTEMPTED, Status.ERROR, Status.NOT_RUN)
#: Statuses a graded test can get: exactly one applies to every test of every student.
GRADED = (Status.PASSED, Status.FAILED, Status.NOT_ATTEMPTED, Status.ERROR, Status.TIMEOUT,
          Status.CRASHED, Status.OUT_OF_MEMORY, Status.TAMPERED, Status.MISSING,
          Status.UNREADABLE)
