"""Stored reference data of the checks, and the script that produced it.

``data/qmix_reference.json`` holds, for ``hypernet_layers`` 1 and 2, the weights of a QMIX mixer
(n_agents 3, state_dim 5, mixing_embed_dim 4, hypernet_embed 6; seeds 11 and 12), a batch of
agent Q-values and states (B 2, T 3) and the Q_tot the reference mixer computed. The checks load
the weights into the student's mixer and compare its output with the stored one: they never
call the package's mixer. Regenerate (it should not change) with::

    python -m pymarl_explained.assignments.reference_data

A test checks that the stored values still equal the package's ``QMixer`` on the same weights.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from types import SimpleNamespace

QMIX_REFERENCE = "qmix_reference.json"
QMIX_ARGS = {"n_agents": 3, "state_shape": 5, "mixing_embed_dim": 4, "hypernet_embed": 6}


def mixer_args(hypernet_layers: int) -> SimpleNamespace:
    return SimpleNamespace(**QMIX_ARGS, hypernet_layers=hypernet_layers)


def load_reference(name: str = QMIX_REFERENCE) -> dict:
    """The stored reference data (a dict of plain lists)."""
    return json.loads(resources.files("pymarl_explained.assignments").joinpath("data", name).read_text())


def build_qmix_reference() -> dict:
    """Weights, inputs and outputs of the package's QMixer, for hypernet_layers 1 and 2 (fixed seeds)."""
    import torch

    from pymarl_explained.modules.mixers.qmix import QMixer

    data = {}
    for layers in (1, 2):
        torch.manual_seed(10 + layers)
        mixer = QMixer(mixer_args(layers))
        agent_qs = torch.randn(2, 3, QMIX_ARGS["n_agents"]) * 2
        states = torch.randn(2, 3, QMIX_ARGS["state_shape"])
        with torch.no_grad():
            q_tot = mixer(agent_qs, states)
        data[f"hypernet_layers_{layers}"] = {
            "args": {**QMIX_ARGS, "hypernet_layers": layers},
            "state_dict": {k: v.tolist() for k, v in mixer.state_dict().items()},
            "agent_qs": agent_qs.tolist(),
            "states": states.tolist(),
            "q_tot": q_tot.tolist(),
        }
    return data


def main() -> None:
    from pymarl_explained.assignments.notebooks import write_text_atomic

    path = Path(__file__).parent / "data" / QMIX_REFERENCE
    write_text_atomic(path, json.dumps(build_qmix_reference(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
