"""Run a grid of trainings (algorithms x seeds), each as a papermill notebook, on this machine or
on a Ray cluster; stop it with Ctrl-C and resume it later.

    python -m pymarl_explained.sweep --configs qmix vdn iql --seeds 0 1 2 \\
        --map MarineMicro_MvsM_4 --t-max 500000 --out results/sweep --export figures/results
    python -m pymarl_explained.sweep --out results/sweep --resume --export figures/results

Every grid point executes the training notebook (``TRAINING_NOTEBOOK``) with its parameters, so
each run leaves a readable, executed notebook (``<out>/<config>__<map>__seed<k>.ipynb``, its log
``.log``) next to its results folder (``<out>/<config>__<map>__seed<k>/``). Each run saves a
checkpoint every ``--checkpoint-interval`` env steps. ``<out>/sweep.json`` (the manifest) holds
the grid, each run's status and its attempts (host, pid, starting t_env).

Locally, runs go in worker processes of their own, at most ``--jobs`` at a time (default and
upper bound: the usable CPU cores; each run uses one torch thread). Ctrl-C (or SIGTERM) stops the
sweep within seconds: no queued run starts, running runs save a checkpoint and are marked
interrupted; a second Ctrl-C kills them at once. Workers stop when the sweep dies, even by
SIGKILL. A dead worker fails only its own run. ``--resume`` skips finished runs and continues the
others from their latest checkpoint; a resumed run's metrics are stitched into one series.

With ``--ray-address ADDRESS`` (or ``auto``), each run is a Ray task (one CPU, a fresh worker
process); a run whose node dies is retried elsewhere from its latest checkpoint; ``--out`` must
be storage shared by every node (checked first, with the package version of every node).

With ``--export DIR``, each finished run's ``metrics.jsonl`` and ``wallclock.jsonl`` (stitched
across resumes) are written to one flat folder (read by the comparison notebook) as soon as it
finishes; ``--export-only`` exports what ``--out`` already holds without training, and refuses
unfinished runs unless ``--include-unfinished``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, wait
from pathlib import Path
from typing import Any

from pymarl_explained.sweeping.grid import SWEEP_OVERRIDES, GridPoint
from pymarl_explained.sweeping.lineage import progress, run_chain, stitched_metrics, stitched_wallclock
from pymarl_explained.sweeping.manifest import MANIFEST_NAME, Manifest

ROOT = Path(__file__).resolve().parent.parent
#: The papermill-parameterised training notebook that every run executes (the one place it is named).
TRAINING_NOTEBOOK = ROOT / "notebooks" / "06_training_run.ipynb"
#: Notebook parameters that the grid itself sets: ``--param`` may not override them.
GRID_PARAMETERS = ("config", "map_name", "t_max", "seed", "results_dir", "save_model")
#: Grid settings and their defaults; ``--resume`` takes those not given from the manifest.
GRID_DEFAULTS: dict[str, Any] = {"configs": ["qmix", "vdn", "iql"], "seeds": [0, 1, 2],
                                 "map_name": "MarineMicro_MvsM_4", "t_max": 500000, "param": [],
                                 "checkpoint_interval": 50000}
#: Seconds that running runs get to save a checkpoint and stop after Ctrl-C, before they are killed.
STOP_GRACE_S = 60.0

__all__ = ["GridPoint", "TRAINING_NOTEBOOK", "export_metrics", "main"]


def export_metrics(out: Path, point: GridPoint, export_dir: Path) -> list[Path]:
    """Write the point's metrics and wall-clock records, stitched across resumed runs, to
    ``<export>/<config>__<map>__seed<k>.metrics.jsonl`` and ``.wallclock.jsonl``."""
    from pymarl_explained.utils.atomic import atomic_write_text

    chain = run_chain(out / point.name)
    if not chain:
        return []
    written = []
    for kind, records in (("metrics", stitched_metrics(chain)), ("wallclock", stitched_wallclock(chain))):
        if (chain[-1].run_dir / f"{kind}.jsonl").is_file():
            dst = export_dir / f"{point.name}.{kind}.jsonl"
            atomic_write_text(dst, "".join(json.dumps(r) + "\n" for r in records))
            written.append(dst)
    return written


def parse_extra(pairs: list[str], notebook: Path = TRAINING_NOTEBOOK) -> tuple[tuple[str, object], ...]:
    """``["batch_size_run=8"]`` -> ``(("batch_size_run", 8),)`` (values parsed like the command line).

    The names must be parameters of the training notebook, other than those the grid sets, and
    ``extra_overrides`` may not set the keys the sweep sets for checkpoints and resuming.
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
                             "--t-max, --checkpoint-interval or --out instead")
        if key not in known:
            raise SystemExit(f"sweep: {key!r} is not a parameter of {notebook.name}; known: "
                             f"{', '.join(k for k in known if k not in GRID_PARAMETERS)}")
        if key == "extra_overrides":
            taken = [p.split("=", 1)[0] for p in value.split() if p.split("=", 1)[0] in SWEEP_OVERRIDES]
            if taken:
                raise SystemExit(f"sweep: extra_overrides may not set {', '.join(taken)}: the sweep sets them "
                                 "(checkpoints every --checkpoint-interval env steps, resuming with --resume)")
        extra.append((key, parse_value(value)))
    return tuple(extra)


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    pass


def build_parser(cores: int) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pymarl_explained.sweep", description=__doc__,
                                     formatter_class=_HelpFormatter)
    d = GRID_DEFAULTS
    parser.add_argument("--configs", nargs="+", help=f"algorithm configs (default: {' '.join(d['configs'])})")
    parser.add_argument("--seeds", nargs="+", type=int, help="one run per config and seed (default: 0 1 2)")
    parser.add_argument("--map", dest="map_name", help=f"SMAC map (default: {d['map_name']})")
    parser.add_argument("--t-max", type=int, help=f"env steps per run (default: {d['t_max']})")
    parser.add_argument("--param", action="append", metavar="NAME=VALUE",
                        help="another notebook parameter for every run (repeatable)")
    parser.add_argument("--checkpoint-interval", type=int,
                        help=f"env steps between checkpoints of each run (default: {d['checkpoint_interval']})")
    parser.add_argument("--out", type=Path, default=Path("results/sweep"),
                        help="executed notebooks, results and sweep.json (default: results/sweep)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the sweep in --out: skip finished runs, resume the others from their "
                             "latest checkpoint (grid options not given are taken from its sweep.json)")
    parser.add_argument("--jobs", type=int, default=cores,
                        help=f"local runs at a time (default and maximum: the usable cores, {cores})")
    parser.add_argument("--ray-address", metavar="ADDRESS",
                        help="run on this Ray cluster (HOST:PORT, or auto on a node of it): one task per run")
    parser.add_argument("--ray-retries", type=int, default=3,
                        help="times Ray re-runs a run whose node or worker process died (default: 3)")
    parser.add_argument("--export", type=Path, default=None, help="write metrics files of finished runs here")
    parser.add_argument("--export-only", action="store_true",
                        help="train nothing: export the runs of every grid point already in --out")
    parser.add_argument("--include-unfinished", action="store_true",
                        help="with --export-only: also export runs that did not reach --t-max")
    return parser


def resolve_grid(args: argparse.Namespace, manifest: Manifest | None) -> dict[str, Any] | str:
    """The grid settings: the options given, else the manifest's (with --resume or --export-only),
    else the defaults. A string is an error message."""
    given = {key: getattr(args, key) for key in GRID_DEFAULTS if getattr(args, key) is not None}
    if manifest is None or not (args.resume or args.export_only):
        return {**GRID_DEFAULTS, **given}
    if args.export_only:  # export a part of the recorded grid, or all of it
        return {**GRID_DEFAULTS, **manifest.data["grid"], **given}
    recorded = manifest.data["grid"]
    differ = [key for key, value in given.items() if recorded.get(key) != value]
    if differ:
        return (f"--resume continues the sweep recorded in {manifest.path} with "
                + ", ".join(f"{k}={recorded.get(k)!r}" for k in differ)
                + f"; you gave {', '.join(f'{k}={given[k]!r}' for k in differ)}. Leave them out, or start "
                  "another --out")
    return {**GRID_DEFAULTS, **recorded}


def check_grid(grid: dict[str, Any]) -> str | None:
    """An error message for an unknown config or map or a bad interval, else None."""
    from pymarl_explained.envs.maps import get_map_params
    from pymarl_explained.errors import EnvironmentSetupError
    from pymarl_explained.utils.config_utils import available_configs

    unknown = [c for c in grid["configs"] if c not in available_configs("algs")]
    if unknown:
        return f"unknown config(s) {unknown}; valid: {', '.join(available_configs('algs'))}"
    try:
        get_map_params(grid["map_name"])
    except EnvironmentSetupError as exc:
        return str(exc)
    if grid["checkpoint_interval"] < 1:
        return f"--checkpoint-interval must be at least 1, got {grid['checkpoint_interval']}"
    return None


def main(argv: list[str] | None = None) -> int:
    cores = usable_cores()
    args = build_parser(cores).parse_args(argv)
    manifest = Manifest.load(args.out)
    if args.resume and manifest is None and not args.export_only:
        print(f"sweep: --resume: {args.out / MANIFEST_NAME} does not exist (nothing to resume)", file=sys.stderr)
        return 2
    grid = resolve_grid(args, manifest)
    if isinstance(grid, str):
        print(f"sweep: {grid}", file=sys.stderr)
        return 2
    problem = check_grid(grid)
    if problem is None and args.jobs < 1:
        problem = f"--jobs must be at least 1, got {args.jobs}"
    if problem is None and any(c.isspace() for c in str(args.out.resolve())):
        problem = f"--out {str(args.out.resolve())!r} contains a space (checkpoint paths go into extra_overrides)"
    if problem:
        print(f"sweep: {problem}", file=sys.stderr)
        return 2
    extra = parse_extra(grid["param"])
    # seed-major order: if the sweep is stopped early, every algorithm has its first seeds
    points = [GridPoint(c, s, grid["map_name"], grid["t_max"], extra) for s in grid["seeds"] for c in grid["configs"]]
    if args.export_only:
        return export_only(args, points)
    if not args.resume:
        taken = [p.name for p in points if (args.out / p.name).exists()]
        if manifest is not None or taken:
            print(f"sweep: {args.out} already holds a sweep ({', '.join(taken) or MANIFEST_NAME}): --resume "
                  "continues it (finished runs are skipped), or choose another --out", file=sys.stderr)
            return 2
        manifest = Manifest.create(args.out, grid, [p.name for p in points])
    assert manifest is not None
    return run_sweep(args, grid, points, manifest, cores)


def export_only(args: argparse.Namespace, points: list[GridPoint]) -> int:
    """``--export-only``: export finished runs; unfinished ones only with ``--include-unfinished``."""
    if args.export is None:
        print("sweep: --export-only needs --export DIR", file=sys.stderr)
        return 2
    written, missing, unfinished = [], [], []
    for point in points:
        state = progress(args.out / point.name)
        if state.runs == 0:
            missing.append(point.name)
            continue
        if not state.finished:
            unfinished.append(f"{point.name} (t_env {max(state.t_env, 0)} of {state.t_max})")
            if not args.include_unfinished:
                continue
        written += export_metrics(args.out, point, args.export)
    print(f"sweep: exported {len(written)} files to {args.export}")
    if unfinished:
        print(("sweep: exported unfinished runs: " if args.include_unfinished else
               "sweep: not exported, unfinished (--resume finishes them, --include-unfinished exports them as they "
               "are): ") + ", ".join(unfinished), file=sys.stderr)
    if missing:
        print(f"sweep: no run in {args.out} for {', '.join(missing)}", file=sys.stderr)
    return 1 if missing or (unfinished and not args.include_unfinished) else 0


def run_sweep(args: argparse.Namespace, grid: dict[str, Any], points: list[GridPoint], manifest: Manifest,
              cores: int) -> int:
    """Train every point not finished yet; returns 0, 1 (a run failed) or 130/143 (interrupted)."""
    from pymarl_explained.utils.interrupts import interrupt_exit_status, interrupt_name, sigterm_as_interrupt

    todo = [p for p in points if manifest.status(p.name) != "finished"]
    skipped = len(points) - len(todo)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.ray_address:
        from pymarl_explained.sweeping.ray_backend import RayBackend

        backend: Any = RayBackend(args.ray_address, args.out, args.ray_retries)
        problems = backend.preflight(TRAINING_NOTEBOOK)
        if problems:
            backend.close()
            print("sweep: the Ray cluster is not ready:\n  " + "\n  ".join(problems), file=sys.stderr)
            return 2
    else:
        from pymarl_explained.sweeping.local import LocalBackend

        if args.jobs > cores:
            print(f"sweep: --jobs {args.jobs} capped at {cores}, the usable CPU cores (more runs than cores only "
                  "slow every run down)", flush=True)
        backend = LocalBackend(args.out, min(args.jobs, cores, max(len(todo), 1)))
    manifest.data["backend"] = f"ray {args.ray_address}" if args.ray_address else "local"
    manifest.save()
    print(f"sweep: {len(points)} runs ({' '.join(grid['configs'])} x seeds {grid['seeds']}) on {grid['map_name']}, "
          f"t_max {grid['t_max']}, checkpoints every {grid['checkpoint_interval']} env steps, "
          f"{backend.describe()} -> {args.out}" + (f"; {skipped} finished already" if skipped else ""), flush=True)
    spec_base = {"out": str(args.out.resolve()), "notebook": str(TRAINING_NOTEBOOK),
                 "checkpoint_interval": grid["checkpoint_interval"]}
    queue = deque(todo)
    running: dict[Future, GridPoint] = {}
    tally = {"finished": [], "failed": [], "interrupted": []}
    exported = 0
    stopping = False

    def settle(future: Future) -> None:
        nonlocal exported
        point = running.pop(future)
        try:
            result = future.result()
        except Exception as error:  # Ray: the node died and the retries ran out, ...
            from pymarl_explained.sweeping.ray_backend import describe_failure

            result = {"status": "failed", "error": describe_failure(error), "seconds": None}
        status, seconds = result["status"], result.get("seconds")
        if stopping and status == "failed":  # killed by us while stopping: its checkpoints are kept
            status = "interrupted"
        took = f"{seconds:.0f} s" if seconds is not None else "?"
        manifest.set_status(point.name, status, result.get("error"))
        tally[status].append(point)
        if status == "finished":
            print(f"  done   {point.name} in {took}", flush=True)
            if args.export:
                exported += len(export_metrics(args.out, point, args.export))
        elif status == "interrupted":
            print(f"  stopped {point.name} after {took} at t_env {result.get('end_t_env')} (checkpoint kept)",
                  flush=True)
        else:
            print(f"  FAILED {point.name} after {took}: {result['error']}", flush=True)

    try:
        with sigterm_as_interrupt():
            try:
                while queue or running:
                    while queue and len(running) < backend.capacity:
                        point = queue.popleft()
                        running[backend.submit(point.name, {**spec_base, "point": point.to_json()})] = point
                        manifest.set_status(point.name, "running")
                    done, _ = wait(list(running), timeout=5.0, return_when=FIRST_COMPLETED)
                    for future in done:
                        settle(future)
                    if not done:  # attempts a Ray retry started on another node
                        for point in running.values():
                            manifest.set_status(point.name, "running")
            except KeyboardInterrupt as interrupt:
                stopping = True
                stop_all(backend, running, settle, interrupt_name(interrupt))
                for point in running.values():
                    manifest.set_status(point.name, "interrupted", "killed while stopping")
                print(f"sweep: {interrupt_name(interrupt)}: {len(tally['finished'])} finished, "
                      f"{len(tally['interrupted']) + len(running)} interrupted (--resume continues them from their "
                      f"checkpoints), {len(tally['failed'])} failed, {len(queue)} not started; see {manifest.path}",
                      file=sys.stderr)
                return interrupt_exit_status(interrupt)
    finally:
        backend.close()

    if args.export:
        print(f"sweep: exported {exported} files to {args.export}")
    print(f"sweep: {len(tally['finished']) + skipped} finished, {len(tally['failed'])} failed"
          + (f", {len(tally['interrupted'])} interrupted" if tally["interrupted"] else ""))
    for point in tally["failed"]:
        print(f"  {point.name}: {manifest.run(point.name)['error']} (see {args.out / (point.name + '.ipynb')})",
              file=sys.stderr)
    return 1 if tally["failed"] or tally["interrupted"] else 0


def stop_all(backend: Any, running: dict[Future, GridPoint], settle, signal_name: str) -> None:
    """Ask every running run to stop cleanly; kill them after ``STOP_GRACE_S`` or a second Ctrl-C."""
    print(f"sweep: {signal_name}: stopping {len(running)} running runs (each saves a checkpoint); Ctrl-C again "
          "kills them at once", file=sys.stderr, flush=True)
    backend.stop()
    deadline = time.monotonic() + STOP_GRACE_S
    try:
        while running and time.monotonic() < deadline:
            done, _ = wait(list(running), timeout=0.5, return_when=FIRST_COMPLETED)
            for future in done:
                settle(future)
    except KeyboardInterrupt:
        print("sweep: killing the running runs", file=sys.stderr, flush=True)
    if running:
        backend.kill()
        done, _ = wait(list(running), timeout=10.0)
        for future in done:
            settle(future)


if __name__ == "__main__":
    sys.exit(main())
