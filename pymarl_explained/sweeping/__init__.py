"""The machinery behind ``python -m pymarl_explained.sweep``: one grid of training runs that
survives interrupts, dead workers and dead nodes.

- :mod:`.grid`: a grid point and the notebook parameters of one run of it;
- :mod:`.lineage`: a point's checkpoints, the chain of runs that resumed one another, and their
  metrics stitched into one series;
- :mod:`.manifest`: ``<out>/sweep.json`` (the grid, each run's status and attempts);
- :mod:`.attempt`: one attempt at a grid point (resume from the latest checkpoint, run the
  notebook, stop it cleanly on request), shared by both backends;
- :mod:`.local`: the default backend, one worker process (its own session) per run;
- :mod:`.ray_backend`: one Ray task per run on a Ray cluster (``--ray-address``).
"""
