"""Imported once by the sandbox fork server, so every sandboxed process starts warm.

numpy, torch (with ``torch._dynamo``, which the first optimizer imports), IPython and every
assignment's checks are imported here; each submission then runs in a fresh process forked from
this one, used once.
"""

from autograder.engine import sandbox

sandbox.preload()
