"""Mutants: deliberately wrong answers, each proven (by the tests) to fail the checks it names.

A mutant is a one-place edit of a solution notebook's answer cell: ``old`` (which must occur
exactly once in that cell, so a mutant cannot silently drift from the solution) becomes ``new``.
They are the typical bugs of each assignment: an off-by-one ``max_seq_length``, a missing
``filled`` mask, the wrap-around to the wrong slot, bootstrapping through unavailable actions,
forgetting ``(1 - terminated)``, a mixer with signed weights, epsilon not clamped at its floor...
Every check of every assignment is named by at least one mutant (tested), so no check is a
check that cannot fail. The capstone's calibration also trains with some of them
(:mod:`.calibrate`).
"""

from __future__ import annotations

from dataclasses import dataclass

from pymarl_explained.assignments.notebooks import grade_id, read_notebook, source_text
from pymarl_explained.assignments.registry import AssignmentError, get_assignment


@dataclass(frozen=True)
class Mutant:
    """A wrong answer: ``old`` -> ``new`` in the answer cell of ``part``, rejected by ``rejected_by``."""

    name: str
    assignment: str
    part: str
    old: str
    new: str
    rejected_by: tuple[str, ...]
    description: str


def _m(name, assignment, part, old, new, rejected_by, description) -> Mutant:
    return Mutant(name, assignment, part, old, new, tuple(rejected_by), description)


MUTANTS: list[Mutant] = [
    # ------------------------------------------------------------------ epsilon_greedy
    _m("epsilon_not_clamped", "epsilon_greedy", "schedule",
       "return max(finish, start - (start - finish) * t_env / anneal_time)",
       "return start - (start - finish) * t_env / anneal_time",
       ["clamped_at_floor", "epsilon_follows_schedule"], "epsilon keeps falling below epsilon_finish"),
    _m("epsilon_exponent_decay", "epsilon_greedy", "schedule",
       "return max(finish, start - (start - finish) * t_env / anneal_time)",
       "return max(finish, start * (finish / start) ** (t_env / anneal_time))",
       ["linear_in_between"], "an exponential decay instead of PyMARL's linear one"),
    _m("epsilon_starts_at_finish", "epsilon_greedy", "schedule",
       "return max(finish, start - (start - finish) * t_env / anneal_time)",
       "return max(finish, start - (start - finish) * (t_env + anneal_time / 2) / anneal_time)",
       ["starts_at_start"], "the decay is shifted: epsilon does not start at epsilon_start"),
    _m("epsilon_divides_by_zero", "epsilon_greedy", "schedule",
       "    if anneal_time <= 0:\n        return finish\n", "",
       ["zero_anneal_time"], "PyMARL's division by zero when epsilon_anneal_time is 0"),
    _m("greedy_through_unavailable", "epsilon_greedy", "selector",
       "greedy_actions = masked_q.max(dim=2)[1]", "greedy_actions = agent_inputs.max(dim=2)[1]",
       ["greedy_ignores_unavailable", "test_mode_is_greedy"], "the argmax ignores avail_actions"),
    _m("random_over_all_actions", "epsilon_greedy", "selector",
       "random_actions = Categorical(avail_actions.float()).sample().long()",
       "random_actions = torch.randint(0, agent_inputs.shape[2], agent_inputs.shape[:2])",
       ["random_never_unavailable"], "random actions drawn over every action, available or not"),
    _m("random_weighted_by_q", "epsilon_greedy", "selector",
       "random_actions = Categorical(avail_actions.float()).sample().long()",
       "random_actions = Categorical(avail_actions.float() * agent_inputs.clamp(min=1e-3)).sample().long()",
       ["random_uniform_over_available"], "random actions weighted by their Q-values (Boltzmann), not uniform"),
    _m("explore_comparison_inverted", "epsilon_greedy", "selector",
       "< self.epsilon).long()", "> self.epsilon).long()",
       ["explores_with_probability_epsilon", "greedy_ignores_unavailable"],
       "explores with probability 1 - epsilon"),
    _m("test_mode_ignored", "epsilon_greedy", "selector",
       "        if test_mode:\n            self.epsilon = getattr(self.args, \"evaluation_epsilon\", 0.0)\n", "",
       ["test_mode_is_greedy"], "test episodes explore like training ones"),
    _m("epsilon_never_updated", "epsilon_greedy", "selector",
       "        self.epsilon = epsilon_schedule(t_env, self.args.epsilon_start, self.args.epsilon_finish,\n"
       "                                        self.args.epsilon_anneal_time)\n", "",
       ["epsilon_follows_schedule"], "epsilon stays at epsilon_start for the whole run"),
    _m("actions_keep_last_dim", "epsilon_greedy", "selector",
       "return pick_random * random_actions + (1 - pick_random) * greedy_actions",
       "return (pick_random * random_actions + (1 - pick_random) * greedy_actions).unsqueeze(-1)",
       ["shape_and_dtype"], "returns (batch, n_agents, 1) instead of (batch, n_agents)"),
    # ------------------------------------------------------------------ episode_batch
    _m("max_seq_length_off_by_one", "episode_batch", "shapes",
       "max_seq_length = episode_limit + 1", "max_seq_length = episode_limit",
       ["max_seq_length_is_limit_plus_one"], "max_seq_length = episode_limit: no room for the bootstrap step"),
    _m("group_ignored", "episode_batch", "shapes",
       "        if \"group\" in info:\n            vshape = (groups[info[\"group\"]], *vshape)\n", "",
       ["grouped_fields_per_agent", "preprocess_output_added"], "grouped fields lose their agent dimension"),
    _m("preprocess_forgotten", "episode_batch", "shapes",
       "        scheme[new_key] = {\"vshape\": vshape, \"dtype\": dtype}\n", "        continue\n",
       ["preprocess_output_added"], "the preprocess output actions_onehot is never added"),
    _m("filled_forgotten", "episode_batch", "shapes",
       "    scheme[\"filled\"] = {\"vshape\": (1,), \"dtype\": torch.long}\n", "",
       ["filled_added"], "no filled field"),
    _m("default_dtype_long", "episode_batch", "shapes",
       "shapes[key] = ((batch_size, max_seq_length, *vshape), info.get(\"dtype\", torch.float32))",
       "shapes[key] = ((batch_size, max_seq_length, *vshape), info.get(\"dtype\", torch.long))",
       ["dtypes"], "fields without a dtype default to int64 instead of float32"),
    _m("scheme_mutated", "episode_batch", "shapes",
       "    scheme = {key: dict(info) for key, info in scheme.items()}\n", "",
       ["scheme_not_mutated"], "adds actions_onehot and filled to the caller's scheme"),
    _m("batch_and_time_swapped", "episode_batch", "update",
       "    slices = batch._parse_slices((bs, ts))\n", "    slices = batch._parse_slices((ts, bs))\n",
       ["writes_at_slices", "marks_filled"], "the episode and step indices swapped"),
    _m("episode_data_time_sliced", "episode_batch", "update",
       "            _slices = slices[0]", "            _slices = slices",
       ["episode_data_by_batch_only"], "episode-constant data indexed with the time slice too"),
    _m("mark_filled_ignored", "episode_batch", "update",
       "            if mark_filled:\n", "            if True:\n",
       ["marks_filled"], "filled is marked even with mark_filled=False"),
    _m("filled_never_marked", "episode_batch", "update",
       "                target[\"filled\"][slices] = 1\n", "                pass\n",
       ["marks_filled"], "filled is never set"),
    _m("filled_marked_for_episode_data", "episode_batch", "update",
       "    slices = batch._parse_slices((bs, ts))\n",
       "    slices = batch._parse_slices((bs, ts))\n    if mark_filled:\n"
       "        batch.data.transition_data[\"filled\"][slices] = 1\n        mark_filled = False\n",
       ["episode_data_by_batch_only"], "filled is marked before looking at the keys, even for episode data only"),
    _m("default_dtype_wrong", "episode_batch", "update",
       "dtype = batch.scheme[key].get(\"dtype\", torch.float32)",
       "dtype = batch.scheme[key].get(\"dtype\", torch.long)",
       ["converts_dtypes"], "values without a scheme dtype are converted to int64 (truncated) before being stored"),
    _m("preprocess_from_raw_values", "episode_batch", "update",
       "            value = target[key][_slices]\n", "",
       ["one_hot_preprocess"], "the one-hot is computed from the raw values (the runner's (1, n_agents) actions), "
       "not from the stored (..., n_agents, 1) ones"),
    _m("preprocess_forgotten_in_update", "episode_batch", "update",
       "        if key in batch.preprocess:\n", "        if False:\n",
       ["one_hot_preprocess"], "actions_onehot is never written"),
    _m("no_safe_view_check", "episode_batch", "update",
       "        if [s for s in value.shape if s != 1] != [s for s in dest_shape if s != 1]:\n",
       "        if value.numel() != dest_shape.numel():\n",
       ["rejects_mismatched_shape"], "values of another shape with as many elements are reshaped silently"),
    _m("unknown_key_ignored", "episode_batch", "update",
       "            raise KeyError(f\"{key} not found in transition or episode data\")", "            continue",
       ["unknown_key_raises"], "a typo in a key is ignored silently"),
    # ------------------------------------------------------------------ replay_buffer
    _m("buffer_index_not_wrapped", "replay_buffer", "insert",
       "        buffer.buffer_index = buffer.buffer_index % buffer.buffer_size\n", "",
       ["index_wraps_to_zero", "splits_at_the_end"], "buffer_index is never wrapped: it runs past the end"),
    _m("wrap_to_wrong_slot", "replay_buffer", "insert",
       "buffer.buffer_index = buffer.buffer_index % buffer.buffer_size",
       "buffer.buffer_index = buffer.buffer_index % buffer.buffer_size + (buffer.buffer_index >= buffer.buffer_size)",
       ["index_wraps_to_zero", "splits_at_the_end"], "wraps to slot 1 instead of 0"),
    _m("overflow_restarts_at_zero", "replay_buffer", "insert",
       "        insert_episode_batch(buffer, ep_batch[0:buffer_left, :])\n"
       "        insert_episode_batch(buffer, ep_batch[buffer_left:, :])\n",
       "        buffer.buffer_index = 0\n        insert_episode_batch(buffer, ep_batch)\n",
       ["splits_at_the_end"], "a batch that does not fit is written from slot 0, skipping the end of the ring"),
    _m("overflow_dropped", "replay_buffer", "insert",
       "        insert_episode_batch(buffer, ep_batch[buffer_left:, :])\n", "",
       ["splits_at_the_end"], "the part of a batch beyond the end of the ring is lost"),
    _m("episodes_in_buffer_unbounded", "replay_buffer", "insert",
       "buffer.episodes_in_buffer = max(buffer.episodes_in_buffer, buffer.buffer_index)",
       "buffer.episodes_in_buffer = buffer.episodes_in_buffer + ep_batch.batch_size",
       ["episodes_in_buffer_counts"], "episodes_in_buffer counts every insertion, past buffer_size"),
    _m("episodes_in_buffer_after_wrap", "replay_buffer", "insert",
       "        buffer.episodes_in_buffer = max(buffer.episodes_in_buffer, buffer.buffer_index)\n"
       "        buffer.buffer_index = buffer.buffer_index % buffer.buffer_size\n",
       "        buffer.buffer_index = buffer.buffer_index % buffer.buffer_size\n"
       "        buffer.episodes_in_buffer = max(buffer.episodes_in_buffer, buffer.buffer_index)\n",
       ["episodes_in_buffer_counts", "index_wraps_to_zero"], "episodes_in_buffer updated after the wrap: a full buffer "
       "counts 4 of 6"),
    _m("episode_data_not_copied", "replay_buffer", "insert",
       "        buffer.update(ep_batch.data.episode_data, slots)\n", "",
       ["episode_data_copied"], "episode-constant data is not copied"),
    _m("time_slice_whole_buffer", "replay_buffer", "insert",
       "slice(0, ep_batch.max_seq_length)", "slice(0, buffer.max_seq_length)",
       ["shorter_batch_fits"], "the time slice is the buffer's length, not the batch's"),
    _m("filled_remarked", "replay_buffer", "insert",
       "slice(0, ep_batch.max_seq_length), mark_filled=False)",
       "slice(0, ep_batch.max_seq_length), mark_filled=False)\n"
       "        buffer.data.transition_data[\"filled\"][slots] = 1",
       ["first_insert_in_place"], "every step of an inserted episode is marked filled, padding included"),
    _m("sample_exact_shuffled", "replay_buffer", "sample",
       "        return buffer[:batch_size]\n", "        return buffer[np.random.permutation(batch_size)]\n",
       ["sample_exact_returns_all"], "with exactly batch_size stored, returns them in a random order"),
    _m("sample_empty_slots", "replay_buffer", "sample",
       "ids = np.random.choice(buffer.episodes_in_buffer, batch_size, replace=False)",
       "ids = np.random.choice(buffer.buffer_size, batch_size, replace=False)",
       ["sample_distinct_stored"], "samples among all buffer_size slots, empty ones included"),
    _m("sample_with_replacement", "replay_buffer", "sample",
       "ids = np.random.choice(buffer.episodes_in_buffer, batch_size, replace=False)",
       "ids = np.random.choice(buffer.episodes_in_buffer, batch_size, replace=True)",
       ["sample_distinct_stored"], "the same episode can appear twice in a sample"),
    _m("sample_newest_first", "replay_buffer", "sample",
       "ids = np.random.choice(buffer.episodes_in_buffer, batch_size, replace=False)",
       "ids = np.random.choice(min(buffer.episodes_in_buffer, batch_size + 1), batch_size, replace=False)",
       ["sample_uniform"], "samples only among the first batch_size + 1 slots: not uniform"),
    _m("sample_unseeded_rng", "replay_buffer", "sample",
       "ids = np.random.choice(buffer.episodes_in_buffer, batch_size, replace=False)",
       "ids = np.random.default_rng().choice(buffer.episodes_in_buffer, batch_size, replace=False)",
       ["sample_repeatable"], "a fresh unseeded generator: the run's seed does not apply"),
    _m("sample_torch_rng", "replay_buffer", "sample",
       "ids = np.random.choice(buffer.episodes_in_buffer, batch_size, replace=False)",
       "ids = torch.randperm(buffer.episodes_in_buffer)[:batch_size]",
       ["sample_repeatable"], "torch's generator instead of numpy's (the sample changes with the torch state)"),
    _m("sample_oversamples", "replay_buffer", "sample",
       "    if buffer.episodes_in_buffer < batch_size:\n"
       "        raise ValueError(f\"cannot sample {batch_size} episodes from {buffer.episodes_in_buffer}\")\n"
       "    if buffer.episodes_in_buffer == batch_size:\n", "    if buffer.episodes_in_buffer <= batch_size:\n",
       ["refuses_to_oversample"], "no check that enough episodes are stored: returns the first slots, empty "
       "ones included"),
    # ------------------------------------------------------------------ qmix_mixer
    _m("signed_w1", "qmix_mixer", "mixer",
       "w1 = torch.abs(self.hyper_w_1(states))", "w1 = self.hyper_w_1(states)",
       ["monotonic_in_every_agent_q", "hand_computed_example", "matches_reference_values"],
       "W1 without abs: a mixer with signed weights"),
    _m("signed_w_final", "qmix_mixer", "mixer",
       "w_final = torch.abs(self.hyper_w_final(states))", "w_final = self.hyper_w_final(states)",
       ["monotonic_in_every_agent_q", "matches_reference_values"], "W_final without abs"),
    _m("abs_on_bias", "qmix_mixer", "mixer",
       "b1 = self.hyper_b_1(states).view(-1, 1, self.embed_dim)",
       "b1 = torch.abs(self.hyper_b_1(states)).view(-1, 1, self.embed_dim)",
       ["hand_computed_example", "matches_reference_values"], "abs on the bias b1 too (not needed, changes Q_tot)"),
    _m("relu_hidden", "qmix_mixer", "mixer",
       "hidden = F.elu(torch.bmm(agent_qs, w1) + b1)", "hidden = F.relu(torch.bmm(agent_qs, w1) + b1)",
       ["hand_computed_example", "matches_reference_values"], "ReLU instead of ELU in the hidden layer"),
    _m("no_state_value", "qmix_mixer", "mixer",
       "y = torch.bmm(hidden, w_final) + v", "y = torch.bmm(hidden, w_final)",
       ["hand_computed_example", "matches_reference_values", "gradients_reach_hypernetworks"],
       "V(s) is built but never added"),
    _m("w1_transposed", "qmix_mixer", "mixer",
       "w1 = torch.abs(self.hyper_w_1(states)).view(-1, self.n_agents, self.embed_dim)",
       "w1 = torch.abs(self.hyper_w_1(states)).view(-1, self.embed_dim, self.n_agents).transpose(1, 2)",
       ["matches_reference_values"], "W1 laid out as (embed, n_agents) then transposed: other weights per agent"),
    _m("one_layer_state_value", "qmix_mixer", "mixer",
       "self.V = nn.Sequential(nn.Linear(self.state_dim, self.embed_dim), nn.ReLU(), nn.Linear(self.embed_dim, 1))",
       "self.V = nn.Linear(self.state_dim, 1)",
       ["parameter_names_and_shapes"], "V(s) as a single Linear layer"),
    _m("output_not_reshaped", "qmix_mixer", "mixer",
       "return y.view(bs, -1, 1)", "return y",
       ["output_shape"], "returns (B*T, 1, 1) instead of (B, T, 1)"),
    _m("hypernet_weights_detached", "qmix_mixer", "mixer",
       "w1 = torch.abs(self.hyper_w_1(states))", "w1 = torch.abs(self.hyper_w_1(states)).detach()",
       ["gradients_reach_hypernetworks"], "the hypernetwork's output is detached: hyper_w_1 never learns"),
    # ------------------------------------------------------------------ td_loss
    _m("time_out_terminal", "td_loss", "terminal",
       "return env_terminated != info.get(\"episode_limit\", False)", "return env_terminated",
       ["time_out_is_not_terminal"], "a time-out is stored as a real end: no bootstrap where there should be one"),
    _m("terminated_from_limit_only", "td_loss", "terminal",
       "return env_terminated != info.get(\"episode_limit\", False)",
       "return not info.get(\"episode_limit\", False)",
       ["running_is_not_terminal"], "every step without the episode_limit flag is stored as terminal"),
    _m("terminal_never", "td_loss", "terminal",
       "return env_terminated != info.get(\"episode_limit\", False)", "return False",
       ["real_end_is_terminal"], "nothing is ever stored as terminal"),
    _m("bootstrap_same_step", "td_loss", "bootstrap",
       "        online_next = mac_out[:, 1:].clone()\n"
       "        online_next[avail_actions[:, 1:] == 0] = -9999999\n"
       "        best_actions = online_next.max(dim=3, keepdim=True)[1]\n"
       "        return torch.gather(target_mac_out[:, 1:], 3, best_actions).squeeze(3)\n",
       "        online_next = mac_out[:, :-1].clone()\n"
       "        online_next[avail_actions[:, :-1] == 0] = -9999999\n"
       "        best_actions = online_next.max(dim=3, keepdim=True)[1]\n"
       "        return torch.gather(target_mac_out[:, :-1], 3, best_actions).squeeze(3)\n",
       ["uses_next_steps", "online_picks_target_scores"], "bootstraps from steps 0..T-2 (the same step, off by one)"),
    _m("target_max_not_double", "td_loss", "bootstrap",
       "        return torch.gather(target_mac_out[:, 1:], 3, best_actions).squeeze(3)\n",
       "        return target_mac_out[:, 1:].masked_fill(avail_actions[:, 1:] == 0, -9999999).max(dim=3)[0]\n",
       ["online_picks_target_scores"], "the target network's own maximum (plain Q-learning, not double Q)"),
    _m("bootstrap_through_unavailable", "td_loss", "bootstrap",
       "        online_next[avail_actions[:, 1:] == 0] = -9999999\n", "",
       ["never_bootstraps_unavailable", "online_picks_target_scores"], "bootstraps through unavailable actions"),
    _m("bootstrap_with_gradient", "td_loss", "bootstrap",
       "    with torch.no_grad():\n        online_next = mac_out[:, 1:].clone()\n",
       "    if True:\n        online_next = mac_out[:, 1:].clone()\n",
       ["bootstrap_has_no_gradient"], "the bootstrap values carry the target network's gradient"),
    _m("forget_one_minus_terminated", "td_loss", "loss",
       "targets = rewards + gamma * (1 - terminated) * target_qtot", "targets = rewards + gamma * target_qtot",
       ["hand_computed_loss", "terminated_stops_bootstrap"], "forgetting (1 - terminated): bootstraps past real ends"),
    _m("missing_filled_mask", "td_loss", "loss",
       "    mask = filled[:, :-1].float()\n", "    mask = torch.ones_like(rewards)\n",
       ["hand_computed_loss", "padding_masked_by_filled"], "no filled mask: padding steps count in the loss"),
    _m("mask_not_shifted", "td_loss", "loss",
       "    mask[:, 1:] = mask[:, 1:] * (1 - terminated[:, :-1])\n", "",
       ["hand_computed_loss", "step_after_termination_masked"], "the step after a termination stays in the mask"),
    _m("mean_over_all_elements", "td_loss", "loss",
       "return (masked_td_error**2).sum() / mask.sum()", "return (masked_td_error**2).mean()",
       ["hand_computed_loss", "no_gradient_through_target"], "averages over padding too (divides by B * (T-1))"),
    _m("no_bootstrap_at_sequence_end", "td_loss", "loss",
       "    td_error = chosen_qtot - targets.detach()\n",
       "    targets = torch.cat([targets[:, :-1], rewards[:, -1:]], dim=1)\n"
       "    td_error = chosen_qtot - targets.detach()\n",
       ["time_out_bootstraps", "hand_computed_loss"], "the last stored transition never bootstraps (a time-out "
       "treated as an end)"),
    _m("gradient_through_target", "td_loss", "loss",
       "    td_error = chosen_qtot - targets.detach()\n", "    td_error = chosen_qtot - targets\n",
       ["no_gradient_through_target"], "no detach: the loss also pushes the target towards the prediction"),
    _m("filled_modified_in_place", "td_loss", "loss",
       "    mask = filled[:, :-1].float()\n", "    mask = filled[:, :-1]\n",
       ["does_not_modify_inputs"], "the mask is a view of the buffer's filled tensor, changed in place"),
    _m("reward_sign_flipped", "td_loss", "loss",
       "targets = rewards + gamma * (1 - terminated) * target_qtot",
       "targets = -rewards + gamma * (1 - terminated) * target_qtot",
       ["hand_computed_loss"], "the reward's sign is flipped: the agents learn to avoid damaging the enemy"),
    # ------------------------------------------------------------------ omg_batch_sizing
    _m("runner_sees_all_episodes", "omg_batch_sizing", "sizes",
       "\"runner_batch\": batch_size_run,", "\"runner_batch\": batch_size_run * n_agents,",
       ["runner_sees_one"], "believes the runner plays the n_agents episodes in one call"),
    _m("buffer_samples_unscaled", "omg_batch_sizing", "sizes",
       "\"buffer_sample\": scaled_batch,", "\"buffer_sample\": batch_size,",
       ["buffer_samples_scaled_batch"], "the buffer samples the unscaled batch_size"),
    _m("learner_sees_scaled", "omg_batch_sizing", "sizes",
       "\"learner_batch\": scaled_batch // n_agents,", "\"learner_batch\": scaled_batch,",
       ["learner_sees_batch_size"], "forgets the learner's division by n_agents (_refine_batch)"),
    _m("notes_map_hard_coded", "omg_batch_sizing", "sizes",
       "    n_agents = get_map_params(map_name).n_agents\n", "    n_agents = 8  # 8m, as in the notes\n",
       ["runner_sees_one", "buffer_samples_scaled_batch", "t_max_scaled"], "the notes' 8 agents for every map"),
    _m("t_max_unscaled", "omg_batch_sizing", "sizes",
       "\"t_max\": t_max * n_agents,", "\"t_max\": t_max,",
       ["t_max_scaled"], "t_max is not scaled"),
    _m("loop_strict_inequality", "omg_batch_sizing", "loop",
       "    while t_env <= t_max:\n", "    while t_env < t_max:\n",
       ["plain_loop", "omg_loop"], "while t_env < t_max: one iteration short of PyMARL's loop"),
    _m("loop_batch_unscaled", "omg_batch_sizing", "loop",
       "        batch_size *= n_agents\n", "",
       ["omg_loop", "same_gradient_steps"], "the OMG loop trains once 32 episodes are stored (unscaled batch)"),
    _m("loop_t_max_unscaled", "omg_batch_sizing", "loop",
       "        t_max *= n_agents\n", "",
       ["omg_loop", "same_gradient_steps"], "the OMG loop keeps the plain t_max: n_agents times fewer updates"),
    _m("loop_one_episode", "omg_batch_sizing", "loop",
       "    batch_runs = n_agents if omg else 1\n", "    batch_runs = 1\n",
       ["omg_loop"], "the OMG loop plays one episode per iteration"),
]

#: The capstone's answer cell holds the earlier answers: these mutants of them are replayed there
#: (named ``capstone_<mutant>``), with the capstone checks that reject them. The calibration trains
#: with them too.
CAPSTONE_MUTANTS = {
    "reward_sign_flipped": ("hand_computed_loss", "passes_learning_bar"),
    "forget_one_minus_terminated": ("hand_computed_loss",),
    "missing_filled_mask": ("hand_computed_loss",),
    "mask_not_shifted": ("hand_computed_loss",),
    "bootstrap_through_unavailable": ("never_bootstraps_unavailable", "online_picks_target_scores"),
    "target_max_not_double": ("online_picks_target_scores",),
    "gradient_through_target": ("no_gradient_through_target",),
    "signed_w1": ("monotonic_in_every_agent_q", "matches_reference_values"),
    "epsilon_not_clamped": ("epsilon_follows_schedule",),
    "greedy_through_unavailable": ("greedy_ignores_unavailable",),
    "random_over_all_actions": ("random_never_unavailable",),
}
MUTANTS += [
    Mutant(f"capstone_{m.name}", "capstone", "components", m.old, m.new, CAPSTONE_MUTANTS[m.name], m.description)
    for m in list(MUTANTS) if m.name in CAPSTONE_MUTANTS
]


def mutants_of(assignment: str) -> list[Mutant]:
    return [m for m in MUTANTS if m.assignment == assignment]


def get_mutant(name: str) -> Mutant:
    for m in MUTANTS:
        if m.name == name:
            return m
    raise AssignmentError(f"unknown mutant {name!r}")


def mutant_sources(mutant: Mutant, nb: dict | None = None) -> dict[int, str]:
    """``{cell index: mutated source}`` for the solution notebook (``nb``, read when None)."""
    spec = get_assignment(mutant.assignment)
    nb = nb if nb is not None else read_notebook(spec.source_path())
    answer_id = spec.part(mutant.part).answer_id
    for index, cell in enumerate(nb["cells"]):
        if grade_id(cell) == answer_id:
            text = source_text(cell)
            count = text.count(mutant.old)
            if count != 1:
                raise AssignmentError(f"mutant {mutant.name}: its text occurs {count} times in {answer_id} "
                                      "(it must occur exactly once: update the mutant with the solution)")
            return {index: text.replace(mutant.old, mutant.new)}
    raise AssignmentError(f"mutant {mutant.name}: no cell {answer_id} in the solution of {mutant.assignment}")


def mutated_notebook(mutant: Mutant, nb: dict | None = None) -> dict:
    """A copy of the solution notebook with the mutant applied (e.g. a fixture submission)."""
    import copy

    spec = get_assignment(mutant.assignment)
    nb = copy.deepcopy(nb if nb is not None else read_notebook(spec.source_path()))
    for index, text in mutant_sources(mutant, nb).items():
        nb["cells"][index]["source"] = text.splitlines(keepends=True)
    return nb
