"""Run a grid of trainings (algorithms x seeds) on one machine, each as a papermill notebook.

    python -m pymarl_explained.sweep --configs qmix vdn iql --seeds 0 1 2 \\
        --map MarineMicro_MvsM_4 --t-max 500000 --out results/sweep --export figures/results

Every grid point executes ``notebooks/06_training_run.ipynb`` with its parameters, so each run
leaves a readable, executed notebook (``<out>/<config>__<map>__seed<k>.ipynb``) next to its
results folder (``<out>/<config>__<map>__seed<k>/``). Runs go in parallel processes, at most
``--jobs`` at a time (default and upper bound: the CPU cores this process may use; each run uses
one torch thread). Parameter names, the map and the configs are checked before anything starts.
A failed run is reported with the cell that failed and never stops or loses the others; with
``--export``, each run's ``metrics.jsonl`` and ``wallclock.jsonl`` are copied into one flat
folder (read by ``notebooks/07_compare_algorithms.ipynb``) as soon as that run finishes, so an
interrupted sweep (Ctrl-C) keeps everything that finished; ``--export-only`` exports what an
``--out`` folder already holds without training.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRAINING_NOTEBOOK = ROOT / "notebooks" / "06_training_run.ipynb"
#: Notebook parameters that the grid itself sets: ``--param`` may not override them.
GRID_PARAMETERS = ("config", "map_name", "t_max", "seed", "results_dir")


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
        return f"{self.config}__{self.map_name}__seed{self.seed}"


def run_point(point: GridPoint, out: Path, notebook: Path = TRAINING_NOTEBOOK) -> tuple[GridPoint, float, str | None]:
    """Execute the training notebook for one grid point. Returns (point, seconds, error or None)."""
    import papermill as pm

    results_dir = (out / point.name).resolve()
    parameters = {**dict(point.extra), "config": point.config, "map_name": point.map_name, "t_max": point.t_max,
                  "seed": point.seed, "results_dir": str(results_dir), "progress_bar": False}
    start = time.time()
    try:
        pm.execute_notebook(str(notebook), str(out / f"{point.name}.ipynb"), parameters=parameters,
                            cwd=str(notebook.parent), progress_bar=False, kernel_name="python3")
    except pm.PapermillExecutionError as exc:  # the failing cell and its exception
        return point, time.time() - start, f"cell [{exc.exec_count}] raised {exc.ename}: {exc.evalue}"
    except Exception as exc:  # the kernel died, the notebook could not be read or written, ...
        return point, time.time() - start, f"{type(exc).__name__}: {exc}"
    return point, time.time() - start, None


def export_metrics(out: Path, point: GridPoint, export_dir: Path) -> list[Path]:
    """Copy the newest run of ``point`` (its metrics.jsonl and wallclock.jsonl) to
    ``<export>/<config>__<map>__seed<k>.*``. Run folders are named ``..._<date>``, so the last in
    sorted order is the newest (an older run left in the same ``--out`` folder is not exported)."""
    run_dirs = sorted(d for d in (out / point.name / "runs").glob("*") if d.is_dir())
    if not run_dirs:
        return []
    export_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in ("metrics", "wallclock"):
        src = run_dirs[-1] / f"{kind}.jsonl"
        if src.is_file():
            dst = export_dir / f"{point.name}.{kind}.jsonl"
            shutil.copyfile(src, dst)
            written.append(dst)
    return written


def parse_extra(pairs: list[str], notebook: Path = TRAINING_NOTEBOOK) -> tuple[tuple[str, object], ...]:
    """``["batch_size_run=8"]`` -> ``(("batch_size_run", 8),)`` (values parsed like the command line).

    The names must be parameters of the training notebook, other than those the grid sets.
    """
    import papermill as pm

    from pymarl_explained.utils.config_utils import parse_value

    known = pm.inspect_notebook(str(notebook))
    extra = []
    for pair in pairs:
        if "=" not in pair:
            raise SystemExit(f"sweep: --param expects name=value, got {pair!r}")
        key, value = pair.split("=", 1)
        if key in GRID_PARAMETERS:
            raise SystemExit(f"sweep: --param {key}=... is set by the grid; use --configs, --seeds, --map, "
                             "--t-max or --out instead")
        if key not in known:
            raise SystemExit(f"sweep: {key!r} is not a parameter of {notebook.name}; known: "
                             f"{', '.join(k for k in known if k not in GRID_PARAMETERS)}")
        extra.append((key, parse_value(value)))
    return tuple(extra)


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


class _HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    pass


def main(argv: list[str] | None = None) -> int:
    cores = usable_cores()
    parser = argparse.ArgumentParser(prog="python -m pymarl_explained.sweep", description=__doc__,
                                     formatter_class=_HelpFormatter)
    parser.add_argument("--configs", nargs="+", default=["qmix", "vdn", "iql"], help="algorithm configs")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="one run per config and seed")
    parser.add_argument("--map", default="MarineMicro_MvsM_4", dest="map_name", help="SMAC map")
    parser.add_argument("--t-max", type=int, default=500000, help="env steps per run")
    parser.add_argument("--out", type=Path, default=Path("results/sweep"), help="executed notebooks and results")
    parser.add_argument("--jobs", type=int, default=cores, help="runs at a time (at most the usable cores)")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="another notebook parameter for every run (repeatable)")
    parser.add_argument("--export", type=Path, default=None, help="copy metrics files of finished runs here")
    parser.add_argument("--export-only", action="store_true",
                        help="train nothing: export the newest run of every grid point already in --out")
    args = parser.parse_args(argv)

    from pymarl_explained.envs.maps import get_map_params
    from pymarl_explained.errors import EnvironmentSetupError
    from pymarl_explained.utils.config_utils import available_configs

    unknown = [c for c in args.configs if c not in available_configs("algs")]
    if unknown:
        print(f"sweep: unknown config(s) {unknown}; valid: {', '.join(available_configs('algs'))}", file=sys.stderr)
        return 2
    try:
        get_map_params(args.map_name)
    except EnvironmentSetupError as exc:
        print(f"sweep: {exc}", file=sys.stderr)
        return 2
    if args.jobs < 1:
        print(f"sweep: --jobs must be at least 1, got {args.jobs}", file=sys.stderr)
        return 2
    extra = parse_extra(args.param)
    # seed-major order: if the sweep is stopped early, every algorithm has its first seeds
    points = [GridPoint(c, s, args.map_name, args.t_max, extra) for s in args.seeds for c in args.configs]
    if args.export_only:
        if args.export is None:
            print("sweep: --export-only needs --export DIR", file=sys.stderr)
            return 2
        written = [path for p in points for path in export_metrics(args.out, p, args.export)]
        missing = [p.name for p in points if not any(path.name.startswith(p.name + ".") for path in written)]
        print(f"sweep: exported {len(written)} files to {args.export}"
              + (f"; no finished run in {args.out} for {', '.join(missing)}" if missing else ""))
        return 1 if missing else 0
    jobs = min(args.jobs, cores, len(points))
    if args.jobs > cores:
        print(f"sweep: --jobs {args.jobs} capped at {cores}, the usable CPU cores (more runs than cores only "
              "slow every run down)", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    reused = [p.name for p in points if (args.out / p.name).exists()]
    if reused:
        print(f"sweep: {args.out} already holds {', '.join(reused)}: their executed notebooks are replaced, "
              "older run folders are kept, only the new runs are exported", flush=True)
    print(f"sweep: {len(points)} runs ({' '.join(args.configs)} x seeds {args.seeds}) on {args.map_name}, "
          f"t_max {args.t_max}, {jobs} at a time -> {args.out}", flush=True)

    failures: list[tuple[GridPoint, str]] = []
    finished: list[GridPoint] = []
    exported = 0
    pool = ProcessPoolExecutor(max_workers=jobs)
    futures: dict[Future, GridPoint] = {pool.submit(run_point, p, args.out): p for p in points}
    try:
        for fut in as_completed(futures):
            try:
                point, seconds, error = fut.result()
            except Exception as exc:  # the worker process itself died (killed, out of memory)
                point, seconds, error = futures[fut], float("nan"), f"worker process died: {type(exc).__name__}"
            if error is None:
                finished.append(point)
                print(f"  done   {point.name} in {seconds:.0f} s", flush=True)
                if args.export:
                    exported += len(export_metrics(args.out, point, args.export))
            else:
                failures.append((point, error))
                print(f"  FAILED {point.name} after {seconds:.0f} s: {error}", flush=True)
    except KeyboardInterrupt:
        pool.shutdown(wait=False, cancel_futures=True)
        print(f"sweep: interrupted; {len(finished)} finished (kept and exported), "
              f"{len(points) - len(finished) - len(failures)} stopped or not started", file=sys.stderr)
        return 130
    pool.shutdown()

    if args.export:
        print(f"sweep: exported {exported} files to {args.export}")
    print(f"sweep: {len(finished)} finished, {len(failures)} failed")
    for point, error in failures:
        print(f"  {point.name}: {error} (see {args.out / (point.name + '.ipynb')})", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
