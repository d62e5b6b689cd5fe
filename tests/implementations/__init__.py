"""Libraries of correct and wrong implementations, one module per assignment."""


def breaks(clause: str):
    """Mark a wrong implementation as violating exactly one clause of its exercise's docstring.

    Defined here, with no import of the course's code, because the kit's verdict test imports
    these modules where only the student kit is importable.
    """
    def mark(impl):
        impl.breaks = clause
        return impl
    return mark
