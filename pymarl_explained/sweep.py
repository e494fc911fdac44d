"""Run a grid of trainings (algorithms x seeds) on one machine, each as a papermill notebook.

    python -m pymarl_explained.sweep --configs qmix vdn iql --seeds 0 1 2 \\
        --map MarineMicro_MvsM_4 --t-max 500000 --out results/sweep --export figures/results

Every grid point executes ``notebooks/05_training_run.ipynb`` with its parameters, so each run
leaves a readable, executed notebook (``<out>/<config>__seed<k>.ipynb``) next to its results
folder (``<out>/<config>__seed<k>/``). Runs go in parallel processes, at most ``--jobs`` at a time
(default: the number of CPU cores; each run uses one torch thread). A failed run is reported at
the end, with the cell that failed, and never stops or loses the runs that finished. ``--export``
copies every finished run's ``metrics.jsonl`` and ``wallclock.jsonl`` into one flat folder that
``notebooks/06_compare_algorithms.ipynb`` reads.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRAINING_NOTEBOOK = ROOT / "notebooks" / "05_training_run.ipynb"


@dataclass(frozen=True)
class GridPoint:
    """One training run of the sweep."""

    config: str
    seed: int
    map_name: str
    t_max: int
    extra: tuple[tuple[str, object], ...] = ()

    @property
    def name(self) -> str:
        return f"{self.config}__seed{self.seed}"


def run_point(point: GridPoint, out: Path, notebook: Path = TRAINING_NOTEBOOK) -> tuple[GridPoint, float, str | None]:
    """Execute the training notebook for one grid point. Returns (point, seconds, error or None)."""
    import papermill as pm

    results_dir = (out / point.name).resolve()
    parameters = {"config": point.config, "map_name": point.map_name, "t_max": point.t_max, "seed": point.seed,
                  "results_dir": str(results_dir), "progress_bar": False, **dict(point.extra)}
    start = time.time()
    try:
        pm.execute_notebook(str(notebook), str(out / f"{point.name}.ipynb"), parameters=parameters,
                            cwd=str(notebook.parent), progress_bar=False, kernel_name="python3")
    except Exception as exc:  # papermill raises PapermillExecutionError with the failing cell
        first_line = str(exc).strip().splitlines()
        return point, time.time() - start, first_line[-1] if first_line else type(exc).__name__
    return point, time.time() - start, None


def export_metrics(out: Path, points: list[GridPoint], export_dir: Path) -> list[Path]:
    """Copy each finished run's metrics.jsonl / wallclock.jsonl to ``<export>/<config>__<map>__seed<k>.*``."""
    export_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for p in points:
        for run_dir in sorted((out / p.name / "runs").glob("*")):
            stem = f"{p.config}__{p.map_name}__seed{p.seed}"
            for kind in ("metrics", "wallclock"):
                src = run_dir / f"{kind}.jsonl"
                if src.is_file():
                    dst = export_dir / f"{stem}.{kind}.jsonl"
                    shutil.copyfile(src, dst)
                    written.append(dst)
    return written


def parse_extra(pairs: list[str]) -> tuple[tuple[str, object], ...]:
    """``["batch_size_run=8"]`` -> ``(("batch_size_run", 8),)`` (values parsed like the command line)."""
    from pymarl_explained.utils.config_utils import parse_value

    extra = []
    for pair in pairs:
        if "=" not in pair:
            raise SystemExit(f"--param expects name=value, got {pair!r}")
        key, value = pair.split("=", 1)
        extra.append((key, parse_value(value)))
    return tuple(extra)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="+", default=["qmix", "vdn", "iql"], help="algorithm configs")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--map", default="MarineMicro_MvsM_4", dest="map_name")
    parser.add_argument("--t-max", type=int, default=500000)
    parser.add_argument("--out", type=Path, default=Path("results/sweep"))
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="runs at a time (default: cores)")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="another notebook parameter for every run (repeatable)")
    parser.add_argument("--export", type=Path, default=None, help="copy metrics files of finished runs here")
    args = parser.parse_args(argv)

    from pymarl_explained.utils.config_utils import available_configs

    unknown = [c for c in args.configs if c not in available_configs("algs")]
    if unknown:
        print(f"sweep: unknown config(s) {unknown}; valid: {', '.join(available_configs('algs'))}", file=sys.stderr)
        return 2
    extra = parse_extra(args.param)
    # seed-major order: if the sweep is stopped early, every algorithm has its first seeds
    points = [GridPoint(c, s, args.map_name, args.t_max, extra) for s in args.seeds for c in args.configs]
    args.out.mkdir(parents=True, exist_ok=True)
    jobs = max(1, min(args.jobs, len(points)))
    print(f"sweep: {len(points)} runs ({' '.join(args.configs)} x seeds {args.seeds}) on {args.map_name}, "
          f"t_max {args.t_max}, {jobs} at a time -> {args.out}", flush=True)

    failures: list[tuple[GridPoint, str]] = []
    finished: list[GridPoint] = []
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(run_point, p, args.out) for p in points]
        for fut in as_completed(futures):
            point, seconds, error = fut.result()
            if error is None:
                finished.append(point)
                print(f"  done   {point.name} in {seconds:.0f} s", flush=True)
            else:
                failures.append((point, error))
                print(f"  FAILED {point.name} after {seconds:.0f} s: {error}", flush=True)

    if args.export and finished:
        written = export_metrics(args.out, finished, args.export)
        print(f"sweep: exported {len(written)} files to {args.export}")
    print(f"sweep: {len(finished)} finished, {len(failures)} failed")
    for point, error in failures:
        print(f"  {point.name}: {error} (see {args.out / (point.name + '.ipynb')})", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
