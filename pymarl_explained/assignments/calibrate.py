"""Calibrate the capstone's learning bar on seeds of the reference, and measure typical bugs against it.

    python -m pymarl_explained.assignments.calibrate --scale ci --jobs 2
    python -m pymarl_explained.assignments.calibrate --scale default --jobs 2 --no-heldout --variants reference \\
        reward_sign_flipped

Each run trains the capstone (:mod:`.capstone`) with the components of the capstone's solution
notebook, or with a mutant of them (:mod:`.mutants`), at one scale and seed, in its own process
(``nice -n 10``, ``--jobs`` at a time). The reference runs on the calibration seeds 0-9 set the
bar, **half the lowest reference score** (rounded down to 0.1): loose on purpose, so that the
reference passes with a margin on seeds it was not calibrated on; it is then checked on held-out
seeds 10-19. Every variant's scores and pass rate are written to
``pymarl_explained/assignments/data/capstone_calibration.json`` (the scale's entry is replaced).
Finished runs are also appended to ``$TMPDIR/pymarl_capstone_calibration_<scale>.jsonl``: an
interrupted calibration started again reuses them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

DEFAULT_VARIANTS = ("reference", "reward_sign_flipped", "forget_one_minus_terminated", "missing_filled_mask",
                    "bootstrap_through_unavailable", "signed_w1")
CALIBRATION_SEEDS = tuple(range(10))
HELDOUT_SEEDS = tuple(range(10, 20))
DATA = Path(__file__).parent / "data" / "capstone_calibration.json"


def components_of(variant: str) -> dict[str, str]:
    """Register the capstone solution's components, or a mutant's (``capstone_<mutant>`` in MUTANTS)."""
    from pymarl_explained.assignments import capstone
    from pymarl_explained.assignments.executor import execute_cells
    from pymarl_explained.assignments.mutants import get_mutant, mutant_sources
    from pymarl_explained.assignments.notebooks import read_notebook
    from pymarl_explained.assignments.registry import get_assignment

    spec = get_assignment("capstone")
    nb = read_notebook(spec.source_path())
    sources = None if variant == "reference" else mutant_sources(get_mutant(f"capstone_{variant}"), nb)
    ns = execute_cells(nb, spec, sources=sources, answers_only=True).namespace
    return capstone.register_components(ns["EpsilonGreedySelector"], ns["QMixer"], ns["double_q_bootstrap"],
                                        ns["td_loss"])


def worker(variant: str, scale: str, seed: int) -> dict:
    from pymarl_explained.assignments import capstone

    run = capstone.run_capstone(components_of(variant), scale=scale, seed=seed)
    return {"variant": variant, "scale": scale, "seed": seed, "score": run.score, "seconds": round(run.seconds, 1)}


def _cache_path(scale: str) -> Path:
    """Finished runs of a scale, one JSON line each, so that an interrupted calibration resumes."""
    return Path(os.environ.get("TMPDIR", "/tmp")) / f"pymarl_capstone_calibration_{scale}.jsonl"


def run_all(jobs: list[tuple[str, int]], scale: str, n_procs: int) -> list[dict]:
    cache = _cache_path(scale)
    done = {}
    if cache.is_file():
        for line in cache.read_text().splitlines():
            res = json.loads(line)
            done[(res["variant"], res["seed"])] = res
    results = [done[job] for job in jobs if job in done]
    pending = [job for job in jobs if job not in done]
    if results:
        print(f"{len(results)} runs reused from {cache}", flush=True)
    running: list[subprocess.Popen] = []
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    while pending or running:
        while pending and len(running) < n_procs:
            variant, seed = pending.pop(0)
            cmd = ["nice", "-n", "10", sys.executable, "-m", "pymarl_explained.assignments.calibrate", "--worker",
                   variant, scale, str(seed)]
            running.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env))
        time.sleep(0.2)
        for proc in list(running):
            if proc.poll() is None:
                continue
            running.remove(proc)
            lines = [line for line in proc.stdout.read().splitlines() if line.startswith("{")]
            if proc.returncode != 0 or not lines:
                print(f"a run failed (exit {proc.returncode}): {proc.args[-3:]}", flush=True)
                continue
            res = json.loads(lines[-1])
            results.append(res)
            with open(cache, "a") as handle:
                handle.write(json.dumps(res) + "\n")
            print(f"  {res['variant']:32} seed {res['seed']:2}  score {res['score']:6.2f}  {res['seconds']:5.1f} s",
                  flush=True)
    return results


def summarise(results: list[dict], scale: str) -> dict:
    from pymarl_explained.assignments.capstone import SCALES
    from pymarl_explained.assignments.mutants import get_mutant

    by = {}
    for r in results:
        by.setdefault(r["variant"], {})[r["seed"]] = r
    ref = [by["reference"][s]["score"] for s in CALIBRATION_SEEDS]
    bar = math.floor(0.5 * min(ref) * 10) / 10
    variants = {}
    for variant, runs in by.items():
        seeds = [s for s in CALIBRATION_SEEDS if s in runs]
        scores = [runs[s]["score"] for s in seeds]
        entry = {"seeds": seeds, "scores": [round(x, 3) for x in scores],
                 "pass_rate": round(sum(x >= bar for x in scores) / len(scores), 3) if scores else None,
                 "seconds_mean": round(sum(runs[s]["seconds"] for s in seeds) / max(len(seeds), 1), 1)}
        held = [s for s in HELDOUT_SEEDS if s in runs]
        if held:
            entry["heldout_seeds"] = held
            entry["heldout_scores"] = [round(runs[s]["score"], 3) for s in held]
            entry["heldout_pass_rate"] = round(sum(runs[s]["score"] >= bar for s in held) / len(held), 3)
        if variant != "reference":
            m = get_mutant(f"capstone_{variant}")
            entry["description"] = m.description
        variants[variant] = entry
    return {"settings": SCALES[scale], "seeds": list(CALIBRATION_SEEDS), "bar": bar,
            "bar_rule": "floor(0.5 * min(reference scores on the calibration seeds), 0.1)", "variants": variants}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", nargs=3, metavar=("VARIANT", "SCALE", "SEED"), help=argparse.SUPPRESS)
    parser.add_argument("--scale", default="ci")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--variants", nargs="+", default=list(DEFAULT_VARIANTS))
    parser.add_argument("--no-heldout", action="store_true", help="skip the reference's held-out seeds 10-19")
    args = parser.parse_args(argv)
    if args.worker:
        variant, scale, seed = args.worker
        print(json.dumps(worker(variant, scale, int(seed))), flush=True)
        return 0
    from pymarl_explained.assignments.capstone import SCALES
    from pymarl_explained.assignments.mutants import get_mutant

    if args.scale not in SCALES:
        parser.error(f"--scale must be one of {sorted(SCALES)}")
    for v in args.variants:
        if v != "reference":
            get_mutant(f"capstone_{v}")
    jobs = [("reference", s) for s in CALIBRATION_SEEDS + (() if args.no_heldout else HELDOUT_SEEDS)]
    jobs += [(v, s) for v in args.variants if v != "reference" for s in CALIBRATION_SEEDS]
    start = time.time()
    print(f"{len(jobs)} runs at scale {args.scale!r}, {args.jobs} at a time", flush=True)
    results = run_all(jobs, args.scale, args.jobs)
    data = json.loads(DATA.read_text()) if DATA.is_file() else {}
    data.setdefault("scales", {})[args.scale] = {**summarise(results, args.scale),
                                                  "wall_clock_s": round(time.time() - start)}
    data["metric"] = "mean test_return_mean over the test phases at t_env >= t_max / 2"
    data["command"] = "python -m pymarl_explained.assignments.calibrate --scale <scale> --jobs 2 [--variants ...]"
    from pymarl_explained.assignments.notebooks import write_text_atomic

    write_text_atomic(DATA, json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"wrote {DATA}: bar {data['scales'][args.scale]['bar']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
