"""nbgrader configuration: this repository is the nbgrader course directory.

``source/<assignment>/`` holds the instructor notebooks, ``notebooks/<assignment>/`` the student
versions that ``python -m autograder release`` (nbgrader's generate_assignment) writes. The
gradebook is SQLite in ``gradebook.db`` (git-ignored); set ``c.CourseDirectory.db_url`` to any
SQLAlchemy URL, such as ``postgresql://user@host/course``, to use a server instead.

The exchange is course-local: ``exchange/`` (git-ignored, created here on first use, no root
needed), so that on one machine the instructor releases and collects while the student side (the
Assignment List, ``nbgrader fetch_assignment``/``submit``/``fetch_feedback``) works in
``student/``, whose own ``nbgrader_config.py`` loads this one. On a shared server, point
``c.Exchange.root`` at a folder every student can write to (nbgrader's default is
``/usr/local/share/nbgrader/exchange``) and drop ``c.Exchange.assignment_dir``.
"""

import os

c = get_config()  # noqa: F821  (provided by nbgrader's config loader)

c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.course_id = "why-wont-it-train"
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "notebooks"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(c.CourseDirectory.root, "gradebook.db")

c.Exchange.root = os.path.join(c.CourseDirectory.root, "exchange")
os.makedirs(c.Exchange.root, exist_ok=True)
c.Exchange.assignment_dir = os.path.join(c.CourseDirectory.root, "student")
# The student's record of their submissions (fetch_feedback looks there), also kept in the course.
c.Exchange.cache = os.path.join(c.Exchange.assignment_dir, ".nbgrader_cache")

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
c.Execute.timeout = 60
