"""Checks of assignment ``a03_adaptive_lr``: one module per notebook.

``adaptive`` checks ``adaptive_methods.ipynb`` (AdaGrad, RMSProp, Adam, RAdam, diffGrad, an Adam
optimizer class); ``schedules`` checks ``schedules_second_order.ipynb`` (learning-rate schedules,
Newton, BFGS, L-BFGS). Every exercise is also an attribute of this package, so a test cell writes
``from autograder.checks import a03_adaptive_lr as checks; checks.adam_step.run_visible(...)``.
"""

from autograder.checks.a03_adaptive_lr import adaptive, schedules

#: Every exercise of the assignment, in notebook order.
EXERCISES = {**adaptive.EXERCISES, **schedules.EXERCISES}
globals().update(EXERCISES)
