"""pymarl_explained: PyMARL, explained by running it.

The package mirrors PyMARL's layout (main.py, run.py, components/, controllers/, envs/,
learners/, modules/, runners/, utils/) so that the study notebooks can quote our code next to
PyMARL's. The notebook API::

    from pymarl_explained import load_config, train
    config = load_config("qmix", "sc2", {"env_args.map_name": "MarineMicro_MvsM_4", "t_max": 20000})
    run = train(config)        # same path as the command line: sacred, run(), run_sequential()
    run.metrics["test_battle_won_mean"]

Heavy modules (torch, sacred) are imported on first use of ``load_config``/``train``.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["load_config", "train", "__version__"]


def __getattr__(name: str):
    if name == "load_config":
        from pymarl_explained.utils.config_utils import load_config

        return load_config
    if name == "train":
        from pymarl_explained.main import train

        return train
    raise AttributeError(f"module 'pymarl_explained' has no attribute {name!r}")
