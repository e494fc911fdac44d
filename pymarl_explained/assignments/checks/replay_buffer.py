"""Checks of the replay_buffer assignment: ``insert_episode_batch`` and ``sample``.

Every episode written into the test buffers carries its own number: ``state[:, t, 0] = id + 1`` at
each of its filled steps, so where an episode landed (and which ones a sample returned) is read
back directly. The expected slots, indices and counts are worked out by hand in each check (the
episode_buffer notes' example: two batches of 4 into a buffer of 6 leave buffer_index 2 and 6
episodes stored, the second batch split 2 + 2). The buffer handed to the student's functions
refuses the package's own ``insert_episode_batch`` / ``sample``.
"""

from __future__ import annotations

import numpy as np
import torch

from pymarl_explained.assignments.checking import Check, CheckFailed, expect, make_check_decorator
from pymarl_explained.assignments.checks.episode_batch import run_scheme
from pymarl_explained.components.episode_buffer import EpisodeBatch, ReplayBuffer

CHECKS: list[Check] = []
insert_check = make_check_decorator("replay_buffer", "insert", CHECKS)
sample_check = make_check_decorator("replay_buffer", "sample", CHECKS)

T = 5  # max_seq_length of the test buffers


class GuardedBuffer(ReplayBuffer):
    """A ReplayBuffer whose own insert/sample refuse to run: the answer must implement them."""

    def insert_episode_batch(self, ep_batch):
        raise CheckFailed("your code called the package's ReplayBuffer.insert_episode_batch: implement it yourself "
                          "(buffer.update is allowed)")

    def sample(self, batch_size):
        raise CheckFailed("your code called the package's ReplayBuffer.sample: implement it yourself")


def _scheme():
    scheme, groups, preprocess = run_scheme(2, 3, 4, 3)
    scheme["map_id"] = {"vshape": (1,), "dtype": torch.long, "episode_const": True}
    return scheme, groups, preprocess


def new_buffer(size: int, max_seq_length: int = T) -> GuardedBuffer:
    scheme, groups, preprocess = _scheme()
    return GuardedBuffer(scheme, groups, size, max_seq_length, preprocess=preprocess)


def episodes(first_id: int, n: int, max_seq_length: int = T) -> EpisodeBatch:
    """``n`` episodes numbered ``first_id``.. : episode k lasts ``2 + k % (max_seq_length - 1)`` steps,
    its state[:, t, 0] is ``k + 1`` on its filled steps and its map_id is ``k + 100``."""
    scheme, groups, preprocess = _scheme()
    batch = EpisodeBatch(scheme, groups, n, max_seq_length, preprocess=preprocess)
    for b in range(n):
        k = first_id + b
        length = min(max_seq_length, 2 + k % (max_seq_length - 1))
        state = torch.zeros(length, 3)
        state[:, 0] = k + 1
        batch.update({"state": state, "reward": torch.full((length, 1), float(k))}, bs=b, ts=slice(0, length))
        batch.update({"map_id": [k + 100]}, bs=b)
    return batch


def stored_ids(buffer: EpisodeBatch) -> list[int | None]:
    """The episode number in each slot (None for a slot never written)."""
    first = buffer["state"][:, 0, 0]
    return [None if v == 0 else int(v) - 1 for v in first.tolist()]


def _ids_of(sampled) -> list[int]:
    expect(isinstance(sampled, EpisodeBatch), f"sample must return an EpisodeBatch, got {type(sampled).__name__}")
    return [int(v) - 1 for v in sampled["state"][:, 0, 0].tolist()]


# ------------------------------------------------------------------ insert
@insert_check(hint="write the episodes at [buffer_index : buffer_index + batch_size, 0 : max_seq_length] and advance")
def first_insert_in_place(insert_episode_batch):
    buffer = new_buffer(6)
    insert_episode_batch(buffer, episodes(0, 2))
    expect(stored_ids(buffer) == [0, 1, None, None, None, None],
           f"inserting episodes 0, 1 into an empty buffer of 6 should fill slots 0, 1; slots hold {stored_ids(buffer)}")
    expect((buffer.buffer_index, buffer.episodes_in_buffer) == (2, 2),
           f"then buffer_index and episodes_in_buffer should be 2 and 2, got {buffer.buffer_index} and "
           f"{buffer.episodes_in_buffer}")
    # episode 0 lasts 2 steps, episode 1 lasts 3: filled is copied as it is, not re-marked
    expect(buffer["filled"][:2, :, 0].tolist() == [[1, 1, 0, 0, 0], [1, 1, 1, 0, 0]],
           f"filled must be copied from the episodes (2 and 3 filled steps), got "
           f"{buffer['filled'][:2, :, 0].tolist()}: "
           "write the transition data with mark_filled=False")


@insert_check(hint="episode-constant data (episode_data) is copied too, at the same slots")
def episode_data_copied(insert_episode_batch):
    buffer = new_buffer(6)
    insert_episode_batch(buffer, episodes(0, 2))
    insert_episode_batch(buffer, episodes(2, 3))
    got = buffer["map_id"][:, 0].tolist()
    expect(got == [100, 101, 102, 103, 104, 0],
           f"map_id (episode data) of episodes 0-4 should be in slots 0-4: [100, 101, 102, 103, 104, 0]; got {got}: "
           "also update(ep_batch.data.episode_data, <the same batch slice>)")


@insert_check(hint="the index must wrap to 0 when the buffer is full")
def index_wraps_to_zero(insert_episode_batch):
    buffer = new_buffer(6)
    for first in (0, 2, 4):
        insert_episode_batch(buffer, episodes(first, 2))
    expect(buffer.buffer_index == 0,
           f"after 3 batches of 2 in a buffer of 6, buffer_index should wrap to 0, got {buffer.buffer_index}: "
           "the index "
           "must wrap to 0 when the buffer is full (buffer_index %= buffer_size)")
    expect(buffer.episodes_in_buffer == 6 and stored_ids(buffer) == [0, 1, 2, 3, 4, 5],
           f"and the buffer should hold episodes 0-5 in order, got {stored_ids(buffer)} "
           f"(episodes_in_buffer {buffer.episodes_in_buffer})")
    insert_episode_batch(buffer, episodes(6, 1))
    expect(stored_ids(buffer)[0] == 6,
           f"the next episode (6) must overwrite the oldest, slot 0; slots: {stored_ids(buffer)}")


@insert_check(hint="a batch that does not fit is split at the end of the buffer: the rest goes to slot 0 onwards")
def splits_at_the_end(insert_episode_batch):
    buffer = new_buffer(6)
    insert_episode_batch(buffer, episodes(0, 4))
    insert_episode_batch(buffer, episodes(4, 4))
    expect(stored_ids(buffer) == [6, 7, 2, 3, 4, 5],
           f"two batches of 4 (episodes 0-3, then 4-7) into a buffer of 6: episodes 4, 5 go to slots 4, 5 and 6, 7 "
           f"wrap around to slots 0, 1, so the slots should hold [6, 7, 2, 3, 4, 5]; got {stored_ids(buffer)}")
    expect(buffer.buffer_index == 2, f"then buffer_index should be 2, got {buffer.buffer_index}")
    expect(buffer["map_id"][:, 0].tolist() == [106, 107, 102, 103, 104, 105],
           f"episode data must follow its episodes through the split; map_id = {buffer['map_id'][:, 0].tolist()}")


@insert_check(hint="episodes_in_buffer = max(episodes_in_buffer, buffer_index) before wrapping: at most buffer_size")
def episodes_in_buffer_counts(insert_episode_batch):
    buffer = new_buffer(6)
    counts = []
    for first, n in ((0, 4), (4, 4), (8, 1)):
        insert_episode_batch(buffer, episodes(first, n))
        counts.append(buffer.episodes_in_buffer)
    expect(counts == [4, 6, 6],
           f"inserting 4, 4, then 1 episodes into a buffer of 6, episodes_in_buffer should go 4, 6, 6; got "
           f"{counts}: it "
           "counts stored episodes, never more than buffer_size, and it must not shrink when the index wraps")


@insert_check(hint="the time slice is 0 : ep_batch.max_seq_length (a shorter batch fills the first steps only)")
def shorter_batch_fits(insert_episode_batch):
    buffer = new_buffer(3, max_seq_length=T)
    insert_episode_batch(buffer, episodes(2, 1, max_seq_length=T - 1))  # episode 2 lasts 4 steps
    expect(stored_ids(buffer) == [2, None, None] and buffer["filled"][0, :, 0].tolist() == [1, 1, 1, 1, 0],
           f"an episode batch of max_seq_length {T - 1} goes into steps 0..{T - 2} of slot 0; got slots "
           f"{stored_ids(buffer)}, filled {buffer['filled'][0, :, 0].tolist()}")


# ------------------------------------------------------------------ sample
def _filled_buffer(size: int, n: int) -> GuardedBuffer:
    """A buffer of ``size`` slots holding episodes 0..n-1 in slots 0..n-1 (written directly)."""
    buffer = new_buffer(size)
    src = episodes(0, n)
    for key, value in src.data.transition_data.items():
        buffer.data.transition_data[key][:n] = value
    for key, value in src.data.episode_data.items():
        buffer.data.episode_data[key][:n] = value
    buffer.buffer_index, buffer.episodes_in_buffer = n % size, n
    return buffer


@sample_check(hint="when exactly batch_size episodes are stored, return those (buffer[:batch_size])")
def sample_exact_returns_all(sample):
    buffer = _filled_buffer(8, 4)
    np.random.seed(0)
    for _ in range(20):  # a random order can come out sorted by chance (1 in 24): ask 20 times
        ids = _ids_of(sample(buffer, 4))
        expect(ids == [0, 1, 2, 3], f"with exactly 4 episodes stored, sample(buffer, 4) should return episodes 0-3 "
                                    f"in order (PyMARL returns buffer[:4]), got {ids}")


@sample_check(hint="sample batch_size *distinct* episodes among the episodes_in_buffer stored (not the empty slots)")
def sample_distinct_stored(sample):
    buffer = _filled_buffer(10, 7)
    np.random.seed(0)
    for _ in range(300):
        sampled = sample(buffer, 5)
        ids = _ids_of(sampled)
        expect(sampled.batch_size == 5 and len(ids) == 5, f"sample(buffer, 5) returned {len(ids)} episodes")
        expect(all(0 <= i < 7 for i in ids),
               f"sample(buffer, 5) returned {ids} from a buffer of 10 slots holding 7 episodes (0-6): an id of -1 is "
               "an empty slot. Sample among the first episodes_in_buffer slots only")
        expect(len(set(ids)) == 5, f"sample(buffer, 5) returned {ids}: the episodes must be distinct (replace=False)")


@sample_check(hint="every stored episode is equally likely to be sampled")
def sample_uniform(sample):
    buffer = _filled_buffer(10, 7)
    np.random.seed(1)
    counts = np.zeros(7)
    n = 1500
    for _ in range(n):
        for i in _ids_of(sample(buffer, 2)):
            counts[i] += 1
    # each episode: probability 2/7 per sample, so about 429 of 1500 (std about 17.5)
    expect(np.all(np.abs(counts - n * 2 / 7) < 100),
           f"over {n} samples of 2 from 7 episodes each should be drawn about {n * 2 / 7:.0f} times; counts "
           f"{counts.astype(int).tolist()}: sample uniformly (np.random.choice(episodes_in_buffer, n, replace=False))")


@sample_check(hint="draw with numpy's global RNG (np.random), which the run's seed sets: same seed, same sample")
def sample_repeatable(sample):
    buffer = _filled_buffer(10, 7)
    draws = []
    for attempt in range(2):
        np.random.seed(123)
        torch.manual_seed(7 + attempt)  # a different torch state: the sample must not depend on it
        draws.append([_ids_of(sample(buffer, 3)) for _ in range(5)])
    expect(draws[0] == draws[1],
           f"with np.random.seed(123) twice, the samples differ ({draws[0][0]} vs {draws[1][0]}): use numpy's global "
           "RNG (np.random.choice), which my_main seeds, so that a run can be repeated")


@sample_check(hint="asking for more episodes than are stored is an error (can_sample is False)")
def refuses_to_oversample(sample):
    buffer = _filled_buffer(10, 3)
    try:
        result = sample(buffer, 5)
    except (CheckFailed, NotImplementedError):
        raise
    except Exception:
        return
    got = result.batch_size if isinstance(result, EpisodeBatch) else result
    raise CheckFailed(f"sample(buffer, 5) with only 3 episodes stored returned {got!r}; it must raise (ValueError): "
                      "the training loop calls it only when buffer.can_sample(batch_size)")
