"""The sandboxed execution of submissions: everything between a notebook and its verdicts.

* :mod:`.rebuild`: rebuild each notebook from the source by grade id; :mod:`.scan` finds patching
  and library calls in the student's code;
* :mod:`.pool` and :mod:`.sandbox`: run each notebook in a fresh, isolated process forked from a
  warm server (:mod:`._preload`), several at once; :mod:`.private` holds the engine's own files;
* :mod:`.wire`: the data-only messages that come back;
* :mod:`.verdict`: the expected values and the verdicts, decided in the grader's process;
* :mod:`.execute`: a plain Jupyter kernel, for what runs outside the sandbox.
"""
