"""Plot helpers for the command line and the notebooks.

Each helper returns a matplotlib Figure (the notebook calls ``plt.show()``);
:func:`save_figure` writes it to ``figures/`` reproducibly. Modules:

- :mod:`.curves`: training curves from a run's metrics.jsonl, and :func:`save_figure`.
"""

from pymarl_explained.plotting.curves import TRAINING_KEYS, plot_training_curves, save_figure, write_training_curve

__all__ = ["TRAINING_KEYS", "plot_training_curves", "save_figure", "write_training_curve"]
