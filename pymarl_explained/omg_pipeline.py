"""``python -m pymarl_explained.omg_pipeline``: the documented name of :mod:`pymarl_explained.omg.pipeline`."""

import sys

from pymarl_explained.omg.pipeline import main

if __name__ == "__main__":
    sys.exit(main())
