"""The recurrent agent network shared by all agents: fc1 -> ReLU -> GRUCell -> fc2."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from pymarl_explained.modules.agents.gru_kernel import compiled_for, gru_sequence


class RNNAgent(nn.Module):
    """Maps one agent's input (observation, last action, agent id) and its GRU hidden state to
    one output per action (Q-values for QMIX/VDN/IQL, policy logits for COMA).

    ``forward`` takes one time step, as PyMARL's controller calls it while acting.
    ``forward_sequence`` runs a whole sequence with the same weights and the same maths, but
    does fc1 and fc2 as one matmul each over all steps and the recurrence in one call: the
    learner's fast path (``args.learner_fast_unroll``).
    """

    def __init__(self, input_shape: int, args):
        super().__init__()
        self.args = args
        self.fc1 = nn.Linear(input_shape, args.rnn_hidden_dim)
        self.rnn = nn.GRUCell(args.rnn_hidden_dim, args.rnn_hidden_dim)
        self.fc2 = nn.Linear(args.rnn_hidden_dim, args.n_actions)

    def init_hidden(self) -> torch.Tensor:
        """A zero hidden state of shape (1, rnn_hidden_dim) on the model's device."""
        return self.fc1.weight.new_zeros(1, self.args.rnn_hidden_dim)

    def forward(self, inputs: torch.Tensor, hidden_state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """inputs (N, input_shape), hidden_state (N, H) or reshapeable to it -> q (N, n_actions), h (N, H).

        Without gradients (acting) on the CPU, the compiled kernel makes the same four calls in one
        (:func:`~pymarl_explained.modules.agents.gru_kernel.compiled_for`): the same numbers, faster.
        """
        h_in = hidden_state.reshape(-1, self.args.rnn_hidden_dim)
        kernels = None if torch.is_grad_enabled() else compiled_for(inputs)
        if kernels is not None:
            q, h = kernels.agent_step(inputs, h_in, self.fc1.weight, self.fc1.bias, self.rnn.weight_ih,
                                      self.rnn.weight_hh, self.rnn.bias_ih, self.rnn.bias_hh,
                                      self.fc2.weight, self.fc2.bias)
            return q, h
        x = F.relu(self.fc1(inputs))
        h = self.rnn(x, h_in)
        q = self.fc2(h)
        return q, h

    def forward_sequence(
        self, inputs: torch.Tensor, hidden_state: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """inputs (T, N, input_shape), hidden_state (N, H) -> q (T, N, n_actions), h (T, N, H).

        ``h[t]`` is the hidden state after step t (``h[-1]`` carries on to the next step).
        Equal to calling ``forward`` for t = 0..T-1 and stacking the outputs: fc1 and fc2 run once
        over all steps; on the CPU the recurrence runs the GRUCell's own weights in one call of a
        compiled kernel (or of torch's GRU kernel where it cannot be built), and step by step
        elsewhere (cuDNN's GRU may use TF32 on GPUs, which would change the numbers).
        """
        x = F.relu(self.fc1(inputs))  # all T steps in one matmul
        h0 = hidden_state.reshape(-1, self.args.rnn_hidden_dim)
        if x.device.type == "cpu":
            hs, _ = self._gru_over_sequence(x, h0)
        else:
            hs, _ = self._gru_step_by_step(x, h0)
        q = self.fc2(hs)  # all T steps in one matmul
        return q, hs

    def _gru_step_by_step(self, x: torch.Tensor, h0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Run ``self.rnn`` over x (T, N, H) one GRUCell call per step: all hidden states and the last."""
        h, steps = h0, []
        for t in range(x.shape[0]):
            h = self.rnn(x[t], h)
            steps.append(h)
        return torch.stack(steps, dim=0), h

    def _gru_over_sequence(self, x: torch.Tensor, h0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Run ``self.rnn`` (a GRUCell) over x (T, N, H) in one call: the compiled kernel of
        :mod:`~pymarl_explained.modules.agents.gru_kernel`, or torch's GRU kernel where it is
        unavailable. All hidden states and the last."""
        hs = gru_sequence(self.rnn, x, h0)
        return hs, hs[-1]
