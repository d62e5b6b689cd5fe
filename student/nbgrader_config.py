"""The student's side of the course on one machine: nbgrader fetches assignments into this
folder, and the student works, submits and fetches feedback here (from JupyterLab's Assignment
List or with ``nbgrader fetch_assignment``/``submit``/``fetch_feedback`` run in this folder).

Everything but this file is git-ignored. It loads the course's configuration, which sets the
course id and the course-local exchange.
"""

c = get_config()  # noqa: F821  (provided by nbgrader's config loader)
load_subconfig("../nbgrader_config.py")  # noqa: F821
