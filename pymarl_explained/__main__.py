"""``python -m pymarl_explained --config=qmix --env-config=sc2 with env_args.map_name=3m``."""

import sys

from pymarl_explained.main import main

sys.exit(main())
