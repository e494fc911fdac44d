"""MultiModuleMAC (``mac=multi_module_mac``): one algorithm per agent slot, one of them the ego.

**Reconstruction.** The OMG fork's ``om_controller.py`` is not public. This controller is built
from the fork's description (reference notes) and our reading of its quoted fragments; the
names (``agents``, ``agents_model``, ``main_alg``, ``main_alg_idx``, ``main_alg_args``,
``main_alg_forward_sequence``, ``update_holdup``) follow the fragments, the code is ours.

A composite config (``2iql1qmix1iql_omg``) gives ``agent_algs``, the algorithm of each slot.
For each *distinct* algorithm the controller builds:

- its args: the algorithm's yaml merged over the run args, ``am_model`` defaulting to
  ``none_am`` (for the ego, ``train_alg``, the run args already contain its yaml: main.py merges
  default -> env -> train_alg -> composite -> command line, so command-line overrides reach it);
- its agent network ``agent_REGISTRY[args.agent]`` (input: obs | last action | unit id, plus
  the agent model's output) and its agent model ``am_REGISTRY[args.am_model]``;
- its hidden state, ``(B, n_agents, H)``: every algorithm runs over all units, and each unit
  takes the output of its own slot's algorithm (:meth:`forward`).

The ego is ``main_alg`` / ``main_alg_idx`` / ``main_alg_args``; ``parameters()`` are the ego's
(agent network + agent model), the only ones a learner trains. Fixed teammates are loaded from
``teammate_checkpoints.<alg>`` (a ``results/models/<token>`` folder of a plain run) and act
greedily; the ego acts with its own epsilon-greedy schedule.

``agent_shift`` ``s`` rotates the slots over the units: unit ``u`` is controlled by slot
``(u - s) % n_agents``, so the ego controls unit ``(ego_slot + s) % n_agents``; run.py records
``s`` in each episode's ``agent_idx``.

Checkpoints: one sub-folder per algorithm (``<t_env>/iql/agent.th``, ``<t_env>/iql_omg/agent.th``,
``am.th``, ``vae.th``...).

Known defects of the fragments fixed here: ``update_holdup`` passed the time step into the
batch-slice argument of ``EpisodeBatch.update`` (it writes with ``ts=t`` now); the holdup was
missing when no algorithm used ``omg_am`` (it is then simply empty and never written).
"""

from __future__ import annotations

import os
from types import SimpleNamespace as SN

import torch

from pymarl_explained.components.action_selectors import REGISTRY as action_REGISTRY
from pymarl_explained.components.episode_buffer import EpisodeBatch
from pymarl_explained.controllers.basic_controller import unroll_agent
from pymarl_explained.errors import CheckpointError, ConfigError
from pymarl_explained.modules.agents import REGISTRY as agent_REGISTRY
from pymarl_explained.omg.am import am_REGISTRY
from pymarl_explained.omg.am.inputs import base_input_shape, base_inputs_sequence, base_inputs_step
from pymarl_explained.omg.multi_algs import check_slot_count, check_train_alg
from pymarl_explained.utils.atomic import atomic_save
from pymarl_explained.utils.checkpoint import find_checkpoint, load_state_dict_checked
from pymarl_explained.utils.config_utils import load_yaml_config
from pymarl_explained.utils.rl_utils import UNAVAILABLE_Q

#: Keys that shape a teammate's network: taken from its own yaml, else from default.yaml.
NETWORK_KEYS = ("agent", "rnn_hidden_dim", "obs_agent_id", "obs_last_action", "agent_output_type")


def build_alg_args(args, alg: str) -> SN:
    """The per-algorithm args of ``alg``: its yaml merged over the run args (see the module docstring)."""
    d = dict(vars(args))
    if alg != args.train_alg:
        alg_yaml = load_yaml_config(alg, "algs")
        if alg_yaml.get("multi_algs"):
            raise ConfigError(f"agent_algs entry {alg!r} is a composite config; each slot needs one algorithm.")
        defaults = load_yaml_config("default")
        d.update({k: defaults[k] for k in NETWORK_KEYS if k in defaults})
        d.update(alg_yaml)
        d["am_model"] = alg_yaml.get("am_model", "none_am")
    else:
        d["am_model"] = d.get("am_model") or "none_am"
    d.setdefault("agent_output_type", "q")
    return SN(**d)


class MultiModuleMAC:
    """The multi-algorithm controller (see the module docstring)."""

    def __init__(self, scheme: dict, groups: dict, args, load_teammates: bool = True):
        self.args = args
        self.n_agents = args.n_agents
        self.slot_algs: list[str] = list(args.agent_algs)
        map_name = dict(args.env_args).get("map_name", "?")
        check_slot_count(self.slot_algs, self.n_agents, map_name, getattr(args, "name", ""))
        self.ego_slot = check_train_alg(self.slot_algs, args.train_alg, getattr(args, "name", ""))
        self.alg_names: list[str] = list(dict.fromkeys(self.slot_algs))
        self.main_alg = args.train_alg
        self.main_alg_idx = self.alg_names.index(self.main_alg)

        self.alg_args = [build_alg_args(args, alg) for alg in self.alg_names]
        self.main_alg_args = self.alg_args[self.main_alg_idx]
        self.agents_model = []
        self.agents = []
        for alg, alg_args in zip(self.alg_names, self.alg_args, strict=True):
            if alg_args.agent_output_type != "q":
                raise ConfigError(f"multi_module_mac combines Q-value agents; {alg!r} outputs "
                                  f"{alg_args.agent_output_type!r}.")
            am = am_REGISTRY[alg_args.am_model](scheme, alg_args)
            self.agents_model.append(am)
            self.agents.append(agent_REGISTRY[alg_args.agent](base_input_shape(scheme, alg_args) + am.output_dim,
                                                              alg_args))
        if self.main_alg_args.agent != "rnn":
            raise ConfigError(
                f"The ego {self.main_alg!r} uses agent={self.main_alg_args.agent!r}; it must share one network over "
                "its slots (agent=rnn), because _refine_batch puts the ego's trajectories from n_agents episodes "
                "into the n_agents slots of one pseudo-episode.")

        self.agent_shift = int(getattr(args, "agent_shift", 0)) % self.n_agents
        self.unit_alg = torch.tensor([self.alg_names.index(self.slot_algs[(u - self.agent_shift) % self.n_agents])
                                      for u in range(self.n_agents)])
        self.ego_unit = (self.ego_slot + self.agent_shift) % self.n_agents

        self.action_selector = action_REGISTRY[self.main_alg_args.action_selector](self.main_alg_args)
        self.agent_output_type = "q"
        self.hidden_states: list[torch.Tensor | None] = [None] * len(self.alg_names)
        self.holdup: EpisodeBatch | None = None
        if load_teammates:
            self.load_teammates()

    # ------------------------------------------------------------------ acting
    def select_actions(self, ep_batch, t_ep: int, t_env: int, bs=slice(None), test_mode: bool = False):
        """Actions (len(bs), n_agents): the ego's unit epsilon-greedy, the fixed teammates greedy.

        Acting needs no gradients: the forward pass runs under ``torch.no_grad()``, as in BasicMAC.
        """
        avail_actions = ep_batch["avail_actions"][:, t_ep]
        with torch.no_grad():
            agent_outputs = self.forward(ep_batch, t_ep, test_mode=test_mode)
        ego = self.action_selector.select_action(agent_outputs[bs], avail_actions[bs], t_env, test_mode=test_mode)
        greedy = agent_outputs[bs].masked_fill(avail_actions[bs] == 0, UNAVAILABLE_Q).argmax(dim=-1)
        is_ego = torch.arange(self.n_agents, device=greedy.device) == self.ego_unit
        return torch.where(is_ego, ego, greedy)

    def alg_inputs(self, i: int, ep_batch, t: int) -> torch.Tensor:
        """Algorithm ``i``'s inputs at ``t``: (B * n_agents, obs | last action | id | agent model output, detached)."""
        base = base_inputs_step(ep_batch, t, self.alg_args[i])
        extra = self.agents_model[i].forward(ep_batch, t).detach()
        return torch.cat([base, extra.to(base.dtype)], dim=-1).reshape(ep_batch.batch_size * self.n_agents, -1)

    def forward(self, ep_batch, t: int, test_mode: bool = False) -> torch.Tensor:
        """Outputs (B, n_agents, n_actions) at ``t``: every algorithm runs, each unit takes its own algorithm's."""
        bs = ep_batch.batch_size
        outs = []
        for i, agent in enumerate(self.agents):
            q, self.hidden_states[i] = agent(self.alg_inputs(i, ep_batch, t), self.hidden_states[i])
            outs.append(q.view(bs, self.n_agents, -1))
        self.update_holdup(ep_batch, t)
        stacked = torch.stack(outs, dim=0)  # (n_algs, B, n_agents, n_actions)
        units = torch.arange(self.n_agents)
        return stacked[self.unit_alg, :, units].transpose(0, 1)

    def main_alg_inputs_sequence(self, ep_batch) -> torch.Tensor:
        """The ego's inputs for every step, (B, T, n_agents, input), the agent model's output detached."""
        base = base_inputs_sequence(ep_batch, self.main_alg_args)
        extra = self.agents_model[self.main_alg_idx].forward_sequence(ep_batch).detach()
        return torch.cat([base, extra.to(base.dtype)], dim=-1)

    def main_alg_forward_sequence(self, ep_batch, inputs: torch.Tensor | None = None,
                                  agent: torch.nn.Module | None = None) -> torch.Tensor:
        """``main_alg_forward`` for every step at once: (B, T, n_agents, n_actions), from zero hidden states.

        ``inputs`` from :meth:`main_alg_inputs_sequence` (computed when None); ``agent`` another
        network of the ego's shape (the learner's target network), the ego's own when None.
        """
        inputs = self.main_alg_inputs_sequence(ep_batch) if inputs is None else inputs
        agent = self.agents[self.main_alg_idx] if agent is None else agent
        bs, T, n = inputs.shape[:3]
        hidden = agent.init_hidden().expand(bs * n, -1)
        q, _ = unroll_agent(agent, inputs.transpose(0, 1).reshape(T, bs * n, -1), hidden)
        return q.view(T, bs, n, -1).transpose(0, 1)

    def update_holdup(self, ep_batch, t: int) -> None:
        """Record the agent models' inferences at ``t`` (``infer_mu``, ``infer_log_var``) in ``self.holdup``.

        The holdup is an EpisodeBatch of the acting batch's size and length with one field pair
        per algorithm that infers subgoals (``infer_mu`` for the ego); nothing is recorded when no
        algorithm does. Fixed: written at ``ts=t`` (the fragment passed ``t`` as the batch slice).
        """
        inferring = [(i, am) for i, am in enumerate(self.agents_model) if getattr(am, "last_infer", None) is not None]
        if not inferring:
            return
        if t == 0 or self.holdup is None or self.holdup.batch_size != ep_batch.batch_size:
            scheme = {}
            for i, am in inferring:
                suffix = "" if i == self.main_alg_idx else f"_{self.alg_names[i]}"
                for key in ("infer_mu", "infer_log_var"):
                    scheme[key + suffix] = {"vshape": (am.output_dim,), "group": "agents"}
            self.holdup = EpisodeBatch(scheme, {"agents": self.n_agents}, ep_batch.batch_size,
                                       ep_batch.max_seq_length, device=ep_batch.device)
        data = {}
        for i, am in inferring:
            suffix = "" if i == self.main_alg_idx else f"_{self.alg_names[i]}"
            data["infer_mu" + suffix], data["infer_log_var" + suffix] = am.last_infer
        self.holdup.update(data, ts=t)

    def init_hidden(self, batch_size: int) -> None:
        """Zero hidden states (batch_size, n_agents, H) for every algorithm, and reset the agent models."""
        for i, agent in enumerate(self.agents):
            self.hidden_states[i] = agent.init_hidden().unsqueeze(0).expand(batch_size, self.n_agents, -1)
            self.agents_model[i].init_hidden(batch_size)

    # ------------------------------------------------------------------ parameters and checkpoints
    def parameters(self) -> list[torch.nn.Parameter]:
        """What a learner trains: the ego's agent network and agent model."""
        i = self.main_alg_idx
        return list(self.agents[i].parameters()) + list(self.agents_model[i].trainable_parameters())

    def load_state(self, other_mac: MultiModuleMAC) -> None:
        """Copy the ego's agent network from ``other_mac``."""
        i = self.main_alg_idx
        self.agents[i].load_state_dict(other_mac.agents[i].state_dict())

    def cuda(self) -> None:
        for agent, am in zip(self.agents, self.agents_model, strict=True):
            agent.cuda()
            am.cuda()

    def save_models(self, path: str | os.PathLike) -> None:
        """One sub-folder per algorithm: ``<path>/<alg>/agent.th`` plus its agent model's files."""
        for alg, agent, am in zip(self.alg_names, self.agents, self.agents_model, strict=True):
            folder = os.path.join(path, alg)
            os.makedirs(folder, exist_ok=True)
            atomic_save(agent.state_dict(), os.path.join(folder, "agent.th"))
            am.save_models(folder)

    def load_models(self, path: str | os.PathLike, algs: list[str] | None = None) -> None:
        """Load ``<path>/<alg>/`` for each of ``algs`` (all algorithms when None)."""
        for alg in self.alg_names if algs is None else algs:
            i = self.alg_names.index(alg)
            folder = os.path.join(path, alg)
            if not os.path.isdir(folder):
                raise CheckpointError(
                    f"{path} has no sub-folder {alg!r}: it is not a multi_module_mac checkpoint of a run with "
                    f"algorithm {alg!r} (found: {sorted(os.listdir(path)) if os.path.isdir(path) else 'nothing'}).")
            load_state_dict_checked(self.agents[i], os.path.join(folder, "agent.th"))
            self.agents_model[i].load_models(folder)

    def load_teammates(self) -> None:
        """Load every fixed teammate algorithm from ``teammate_checkpoints.<alg>`` (a plain run's models folder)."""
        checkpoints = dict(getattr(self.args, "teammate_checkpoints", {}) or {})
        for i, alg in enumerate(self.alg_names):
            if alg == self.main_alg:
                continue
            slots = [s for s, a in enumerate(self.slot_algs) if a == alg]
            path = checkpoints.get(alg) or ""
            if not path:
                raise CheckpointError(
                    f"The fixed teammate algorithm {alg!r} (slots {slots}) has no checkpoint. Train the teammates "
                    "first (python -m pymarl_explained.omg_pipeline stage1) and pass "
                    f"teammate_checkpoints.{alg}=results/models/<token> (the pipeline does this for you).")
            folder = resolve_model_folder(path, alg)
            load_state_dict_checked(self.agents[i], os.path.join(folder, "agent.th"))
            if self.alg_args[i].am_model != "none_am":
                self.agents_model[i].load_models(folder)


def resolve_model_folder(path: str, alg: str = "") -> str:
    """A folder holding ``agent.th``: ``path`` itself, or its latest ``<t_env>`` sub-folder."""
    if os.path.isfile(os.path.join(path, "agent.th")):
        return path
    try:
        _, folder = find_checkpoint(path, 0)
    except CheckpointError as error:
        raise CheckpointError(f"Teammate checkpoint for {alg!r}: {error} Run the teammates' training first "
                              "(python -m pymarl_explained.omg_pipeline stage1).") from None
    if not os.path.isfile(os.path.join(folder, "agent.th")):
        raise CheckpointError(f"Teammate checkpoint for {alg!r}: {folder} has no agent.th.")
    return folder

