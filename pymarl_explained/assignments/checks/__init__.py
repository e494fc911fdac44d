"""One module of checks per assignment; each defines ``CHECKS``, a list of :class:`~..checking.Check`.

Expected values are computed by hand (written out in the check) or read from stored reference
data (``pymarl_explained/assignments/data``), never by calling the package's implementation of
the function being checked: a course build may strip those implementations.
"""
