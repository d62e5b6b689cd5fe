"""nbgrader configuration: this repository is the nbgrader course directory.

``source/<assignment>/`` holds the instructor notebooks, ``notebooks/<assignment>/`` the student
versions that ``python -m autograder release`` (nbgrader's generate_assignment) writes. The
gradebook is SQLite in ``gradebook.db`` (git-ignored); set ``c.CourseDirectory.db_url`` to any
SQLAlchemy URL, such as ``postgresql://user@host/course``, to use a server instead.
"""

import os

c = get_config()  # noqa: F821  (provided by nbgrader's config loader)

c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.course_id = "why-wont-it-train"
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "notebooks"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(c.CourseDirectory.root, "gradebook.db")

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
c.Execute.timeout = 60
