"""Checks of the omg_batch_sizing assignment: ``omg_batch_sizes`` and ``loop_counts``.

The OMG batch-sizing notes work on 8m (8 agents): the runner sees 1 episode, the buffer samples
32 * 8 = 256, the learner sees 256 // 8 = 32. The checks use maps the notes do not use:
5m_vs_6m (5 agents: 1 / 160 / 32) and 3m (3 agents: 1 / 96 / 32), worked out by hand.

``loop_counts`` simulates ``run_sequential``'s loop with episodes of a fixed length. By hand, for
5 agents, batch_size 32, t_max 1000, episodes of 10 steps:

- plain run: ``while t_env <= 1000``: one episode per iteration, t_env = 10 k before iteration
  k, so iterations k = 0..100 (101), 101 episodes, t_env ends at 1010; the buffer can sample 32
  episodes from iteration 32 on (the 32nd iteration, counting from 1), so 101 - 31 = 70 train calls;
- OMG run: t_max 5000, batch_size 160, 5 episodes (50 steps) per iteration: iterations k = 0..100
  (101), 505 episodes, t_env 5050; 160 episodes are stored after 32 iterations: 70 train calls,
  as many gradient steps as the plain run (the reason for ``t_max *= n_agents``, as the package
  reads it).
"""

from __future__ import annotations

from pymarl_explained.assignments.checking import Check, expect, make_check_decorator

CHECKS: list[Check] = []
sizes_check = make_check_decorator("omg_batch_sizing", "sizes", CHECKS)
loop_check = make_check_decorator("omg_batch_sizing", "loop", CHECKS)

SIZE_KEYS = ("runner_batch", "episodes_per_iteration", "buffer_sample", "learner_batch", "t_max")
#: map -> (n_agents, expected sizes for batch_size 32, batch_size_run 1, t_max 2050000), by hand.
EXPECTED_SIZES = {
    "5m_vs_6m": {"runner_batch": 1, "episodes_per_iteration": 5, "buffer_sample": 160, "learner_batch": 32,
                 "t_max": 10_250_000},
    "3m": {"runner_batch": 1, "episodes_per_iteration": 3, "buffer_sample": 96, "learner_batch": 32,
           "t_max": 6_150_000},
}
LOOP_KEYS = ("iterations", "episodes", "train_calls", "t_env")
EXPECTED_LOOP = {
    False: {"iterations": 101, "episodes": 101, "train_calls": 70, "t_env": 1010},
    True: {"iterations": 101, "episodes": 505, "train_calls": 70, "t_env": 5050},
}


def _sizes(omg_batch_sizes, map_name: str) -> dict:
    result = omg_batch_sizes(map_name, batch_size=32, batch_size_run=1, t_max=2_050_000)
    expect(isinstance(result, dict) and set(SIZE_KEYS) <= set(result),
           f"omg_batch_sizes must return a dict with the keys {SIZE_KEYS}, got {result!r}"[:300])
    return {k: result[k] for k in SIZE_KEYS}


def _compare(omg_batch_sizes, key: str, hint: str) -> None:
    for map_name, expected in EXPECTED_SIZES.items():
        got = _sizes(omg_batch_sizes, map_name)[key]
        expect(got == expected[key], f"on {map_name} ({expected['episodes_per_iteration']} agents), {key} should be "
                                     f"{expected[key]}, got {got!r}: {hint}")


@sizes_check(hint="the EpisodeRunner plays batch_size_run = 1 episode per run() (it asserts it)")
def runner_sees_one(omg_batch_sizes):
    _compare(omg_batch_sizes, "runner_batch", "runner.run() returns batch_size_run episodes, and the EpisodeRunner "
                                               "asserts batch_size_run == 1; the OMG loop calls it n_agents times "
                                               "instead")
    _compare(omg_batch_sizes, "episodes_per_iteration", "each loop iteration runs batch_runs = n_agents episodes")


@sizes_check(hint="run_sequential multiplies batch_size by n_agents: the buffer samples batch_size * n_agents episodes")
def buffer_samples_scaled_batch(omg_batch_sizes):
    _compare(omg_batch_sizes, "buffer_sample", "args.batch_size *= args.n_agents happens before anything is built, so "
                                                "buffer.can_sample / buffer.sample use the scaled batch size")


@sizes_check(hint="the learner divides again: batch.batch_size // n_agents episodes after _refine_batch")
def learner_sees_batch_size(omg_batch_sizes):
    _compare(omg_batch_sizes, "learner_batch", "train() starts with batch_size = batch.batch_size // n_agents and "
                                                "_refine_batch regroups the sample into that many pseudo-episodes")


@sizes_check(hint="t_max is multiplied by n_agents too (each iteration plays n_agents episodes)")
def t_max_scaled(omg_batch_sizes):
    _compare(omg_batch_sizes, "t_max", "args.t_max *= args.n_agents, next to the batch size")


def _loop(loop_counts, omg: bool) -> dict:
    result = loop_counts(n_agents=5, batch_size=32, t_max=1000, episode_length=10, omg=omg)
    expect(isinstance(result, dict) and set(LOOP_KEYS) <= set(result),
           f"loop_counts must return a dict with the keys {LOOP_KEYS}, got {result!r}"[:300])
    return {k: result[k] for k in LOOP_KEYS}


@loop_check(hint="while t_env <= t_max: run, insert, train if the buffer can sample batch_size episodes")
def plain_loop(loop_counts):
    got = _loop(loop_counts, omg=False)
    expect(got == EXPECTED_LOOP[False],
           f"a plain run (5 agents, batch_size 32, t_max 1000, episodes of 10 steps) should give "
           f"{EXPECTED_LOOP[False]}, got {got}: the loop test is t_env <= t_max (so t_env ends at 1010), and training "
           "starts once 32 episodes are stored")


@loop_check(hint="OMG: t_max and batch_size times n_agents, n_agents episodes per iteration, one train call")
def omg_loop(loop_counts):
    got = _loop(loop_counts, omg=True)
    expect(got == EXPECTED_LOOP[True],
           f"the OMG run of the same settings should give {EXPECTED_LOOP[True]}, got {got}: t_max 5000 and "
           "batch_size 160 after scaling, 5 episodes per iteration, one train call per iteration once 160 are stored")


@loop_check(hint="the scaling keeps the number of gradient steps of a plain run")
def same_gradient_steps(loop_counts):
    for n_agents, length in ((3, 7), (8, 12), (5, 10)):
        plain = loop_counts(n_agents=n_agents, batch_size=32, t_max=3000, episode_length=length, omg=False)
        omg = loop_counts(n_agents=n_agents, batch_size=32, t_max=3000, episode_length=length, omg=True)
        expect(plain["train_calls"] == omg["train_calls"] > 0,
               f"with {n_agents} agents and episodes of {length} steps the OMG run made "
               f"{omg['train_calls']} train calls "
               f"and the plain run {plain['train_calls']}: scaling t_max and batch_size by n_agents should keep them "
               "equal (and above 0)")
