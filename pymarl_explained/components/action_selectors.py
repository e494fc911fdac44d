"""Action selectors: turn the agents' outputs into actions, respecting ``avail_actions``.

``REGISTRY[args.action_selector](args)`` builds one; the controller calls
``select_action(agent_inputs, avail_actions, t_env, test_mode)`` with ``agent_inputs`` and
``avail_actions`` of shape ``(batch, n_agents, n_actions)`` and gets ``(batch, n_agents)`` int64
actions back. Random draws use torch's global RNG, so ``torch.manual_seed`` makes them repeatable.
"""

from __future__ import annotations

import torch
from torch.distributions import Categorical

from pymarl_explained.components.epsilon_schedules import DecayThenFlatSchedule
from pymarl_explained.modules.agents.gru_kernel import compiled_for
from pymarl_explained.utils.registry import Registry
from pymarl_explained.utils.rl_utils import UNAVAILABLE_Q


def _check_some_action_available(avail_actions: torch.Tensor) -> None:
    """Raise a clear error instead of Categorical's cryptic one when a row has no available action."""
    if bool((avail_actions.sum(dim=-1) <= 0).any()):
        raise ValueError(
            "avail_actions has an agent with no available action (every environment must leave at "
            "least one action, e.g. no-op for dead agents); got avail_actions of shape "
            f"{tuple(avail_actions.shape)}."
        )


class MultinomialActionSelector:
    """Sample actions from the policy the controller outputs (``agent_output_type="pi_logits"``).

    The controller already applied the softmax, the epsilon floor and (with
    ``mask_before_softmax``) the masking, so ``agent_inputs`` are probabilities. Unavailable actions
    get probability 0 here too. ``test_mode`` with ``args.test_greedy`` (default True) picks the
    most probable available action. ``self.epsilon`` follows the schedule and is read by the
    controller for its epsilon floor.
    """

    def __init__(self, args):
        self.args = args
        self.schedule = DecayThenFlatSchedule(
            args.epsilon_start, args.epsilon_finish, args.epsilon_anneal_time, decay="linear"
        )
        self.epsilon = self.schedule.eval(0)
        self.test_greedy = getattr(args, "test_greedy", True)

    def select_action(
        self, agent_inputs: torch.Tensor, avail_actions: torch.Tensor, t_env: int, test_mode: bool = False
    ) -> torch.Tensor:
        _check_some_action_available(avail_actions)
        masked_policies = agent_inputs.clone()
        masked_policies[avail_actions == 0] = 0.0
        self.epsilon = self.schedule.eval(t_env)
        if test_mode and self.test_greedy:
            return masked_policies.max(dim=2)[1]
        return Categorical(masked_policies, validate_args=False).sample().long()  # checked above


class EpsilonGreedyActionSelector:
    """With probability epsilon a uniformly random *available* action, else the greedy one.

    Epsilon decays linearly from ``args.epsilon_start`` to ``args.epsilon_finish`` over
    ``args.epsilon_anneal_time`` env steps. In ``test_mode`` epsilon is
    ``args.evaluation_epsilon`` (0.0 unless set, i.e. greedy). The greedy choice ignores
    unavailable actions (their values are set to ``UNAVAILABLE_Q`` before the argmax).

    On the CPU the check and the selection run as one compiled call (``gru_kernel.compiled_for``)
    that draws its random numbers with the same torch calls in the same order: the same actions
    from the same random numbers, faster.
    """

    def __init__(self, args):
        self.args = args
        self.schedule = DecayThenFlatSchedule(
            args.epsilon_start, args.epsilon_finish, args.epsilon_anneal_time, decay="linear"
        )
        self.epsilon = self.schedule.eval(0)

    def select_action(
        self, agent_inputs: torch.Tensor, avail_actions: torch.Tensor, t_env: int, test_mode: bool = False
    ) -> torch.Tensor:
        self.epsilon = self.schedule.eval(t_env)
        if test_mode:
            self.epsilon = getattr(self.args, "evaluation_epsilon", 0.0)

        kernels = None if agent_inputs.requires_grad else compiled_for(agent_inputs)
        if kernels is not None:  # the check and the lines below in one compiled call: the same actions and draws
            actions = kernels.epsilon_greedy(agent_inputs, avail_actions, float(self.epsilon), UNAVAILABLE_Q)
            if actions.numel() == 0:  # a row without an available action (nothing was drawn)
                _check_some_action_available(avail_actions)
            return actions

        _check_some_action_available(avail_actions)
        # Unavailable actions can never be the argmax.
        masked_q_values = agent_inputs.clone()
        masked_q_values[avail_actions == 0] = UNAVAILABLE_Q

        random_numbers = torch.rand_like(agent_inputs[:, :, 0])
        pick_random = (random_numbers < self.epsilon).long()
        # Uniform over the available actions: Categorical normalises the 0/1 availability mask.
        # (Its argument validation repeats the check above and cost several % of acting time.)
        random_actions = Categorical(avail_actions.float(), validate_args=False).sample().long()

        greedy_actions = masked_q_values.max(dim=2)[1]
        return pick_random * random_actions + (1 - pick_random) * greedy_actions


REGISTRY = Registry("action_selector", {
    "multinomial": MultinomialActionSelector,
    "epsilon_greedy": EpsilonGreedyActionSelector,
})
