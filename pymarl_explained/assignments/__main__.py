"""``python -m pymarl_explained.assignments``: see :mod:`pymarl_explained.assignments.cli`."""

import sys

from pymarl_explained.assignments.cli import main

sys.exit(main())
