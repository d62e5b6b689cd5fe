"""Instructor plots of a graded class: the grade distribution and the pass rate of each test."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from autograder.outputs.results import MISSING, PASSED, TEST_STATUSES, ClassResult
from wwit.checks.status import Status

#: One colour per test status, shared by the plots and the HTML pages.
STATUS_COLORS = {str(status): status.colour for status in Status}


@dataclass
class TestTally:
    """How the class did on one test.

    Attributes:
        grade_id: The test cell's grade id.
        notebook: The notebook holding it ("" when no student has it).
        max_points: Points the test is worth.
        counts: Number of students per status (every status of ``TEST_STATUSES``).
    """

    grade_id: str
    notebook: str = ""
    max_points: float = 0.0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TEST_STATUSES, 0))

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def pass_rate(self) -> float | None:
        """Fraction of students who passed, or None for an empty class."""
        return self.counts[PASSED] / self.total if self.total else None


def tally_tests(result: ClassResult) -> list[TestTally]:
    """Counts statuses per test, in notebook order; a student without the test counts as missing.

    Args:
        result: The graded class.

    Returns:
        list[TestTally]: One tally per grade id of ``result.test_ids``.
    """
    tallies = {g: TestTally(g) for g in result.test_ids}
    for student in result.students:
        outcomes = {t.grade_id: t for t in student.tests}
        for grade_id, tally in tallies.items():
            test = outcomes.get(grade_id)
            if test is None:
                tally.counts[MISSING] += 1
                continue
            tally.notebook = tally.notebook or test.notebook
            tally.max_points = max(tally.max_points, test.max_points)
            # An unknown status would silently vanish from the totals otherwise.
            tally.counts[test.status] = tally.counts.get(test.status, 0) + 1
    return list(tallies.values())


def class_max_score(result: ClassResult, tallies: list[TestTally] | None = None) -> float:
    """The assignment's maximum score (a missing student's result may hold no tests)."""
    tallies = tally_tests(result) if tallies is None else tallies
    from_tests = sum(t.max_points for t in tallies)
    return max([from_tests, *(s.max_score for s in result.students)])


def score_stats(result: ClassResult) -> tuple[float | None, float | None]:
    """Mean and median score (missing students count as 0), or ``(None, None)`` if no students."""
    scores = [s.score for s in result.students]
    if not scores:
        return None, None
    return statistics.mean(scores), statistics.median(scores)


def write_plots(result: ClassResult, out: Path) -> dict[str, Path]:
    """Writes ``grade_distribution.png`` and ``pass_rates.png`` into ``out``.

    Args:
        result: The graded class (may be empty, may have a maximum score of 0).
        out: The folder to write into (created if needed).

    Returns:
        dict[str, Path]: ``{"distribution": path, "pass_rates": path}``.
    """
    out.mkdir(parents=True, exist_ok=True)
    tallies = tally_tests(result)
    paths = {"distribution": out / "grade_distribution.png", "pass_rates": out / "pass_rates.png"}
    _plot_distribution(result, tallies, paths["distribution"])
    _plot_pass_rates(result, tallies, paths["pass_rates"])
    return paths


def _plot_distribution(result: ClassResult, tallies: list[TestTally], path: Path) -> None:
    # Figure without pyplot: no global state, no GUI backend, safe in threads.
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    scores = [s.score for s in result.students]
    top = class_max_score(result, tallies)
    missing = sum(s.status == MISSING for s in result.students)
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.add_subplot()
    upper = top if top > 0 else 1.0
    # One bin per point for small assignments, at most 20 bins.
    bins = min(20, max(5, math.ceil(upper)))
    ax.hist(scores, bins=bins, range=(0, upper),
            color="#5c8fd6", edgecolor="white", label=f"students (n={len(scores)})")
    mean, median = score_stats(result)
    if mean is not None:
        ax.axvline(mean, color="#c62828", linestyle="--", label=f"mean {mean:.3g}")
        ax.axvline(median, color="#2e7d32", linestyle=":", label=f"median {median:.3g}")
    if missing:
        ax.plot([], [], " ", label=f"{missing} missing counted as 0")
    if not scores:
        ax.text(0.5, 0.5, "no students", transform=ax.transAxes, ha="center", color="grey")
    ax.set_xlim(0, upper)
    ax.set_xlabel(f"score (out of {top:g})")
    ax.set_ylabel("students")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f"{result.assignment}: grade distribution ({len(scores)} students)")
    ax.legend(loc="best", fontsize="small")
    fig.savefig(path, dpi=100)


def _plot_pass_rates(result: ClassResult, tallies: list[TestTally], path: Path) -> None:
    from matplotlib.figure import Figure

    n = len(result.students)
    fig = Figure(figsize=(9, 1.5 + 0.45 * max(len(tallies), 1)), layout="constrained")
    ax = fig.add_subplot()
    rows = range(len(tallies))
    left = [0.0] * len(tallies)
    for status in TEST_STATUSES:
        widths = [t.counts.get(status, 0) / n if n else 0.0 for t in tallies]
        if not any(widths):
            continue
        ax.barh(rows, widths, left=left, color=STATUS_COLORS[status], label=status)
        for i, w in enumerate(widths):
            if w >= 0.08:
                ax.text(left[i] + w / 2, i, f"{w:.0%}", ha="center", va="center",
                        color="white", fontsize="small")
        left = [a + w for a, w in zip(left, widths, strict=True)]
    for i, tally in enumerate(tallies):
        rate = tally.pass_rate
        ax.text(1.01, i, "-" if rate is None else f"{rate:.0%} passed", va="center",
                fontsize="small")
    if not tallies or not n:
        ax.text(0.5, 0.5, "no tests" if not tallies else "no students",
                transform=ax.transAxes, ha="center", color="grey")
    ax.set_yticks(rows, [t.grade_id for t in tallies])
    ax.set_xlim(0, 1.18)
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0], ["0%", "25%", "50%", "75%", "100%"])
    ax.invert_yaxis()  # first test of the first notebook on top
    ax.set_xlabel("fraction of students")
    ax.set_title(f"{result.assignment}: test outcomes ({n} students)")
    if handles := ax.get_legend_handles_labels()[0]:
        ncol = len(handles) if len(handles) <= 6 else math.ceil(len(handles) / 2)
        fig.legend(loc="outside lower center", ncol=ncol, fontsize="small", frameon=False)
    fig.savefig(path, dpi=100)
