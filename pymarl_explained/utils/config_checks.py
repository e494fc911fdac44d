"""Value checks of a merged config, run before anything is built or written.

The type of every override is checked where it is applied (:func:`config_utils.check_override`);
here the *values* are: sizes and intervals must be positive, probabilities and discounts in
[0, 1], a run that loads or replays needs a checkpoint. Without these checks PyMARL (and this
package before them) failed deep inside, or worse, ran: ``batch_size=0`` crashed in the
controller's reshape, ``test_interval=0`` and ``env_args.reward_scale_rate=0`` divided by zero,
``t_max=-5`` "finished" at once with exit status 0, and ``epsilon_start=2.0`` was accepted.

Only the keys a config has are checked: algorithms define different keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pymarl_explained.errors import ConfigError
from pymarl_explained.utils.config_utils import get_by_dotted_key

#: Keys that must be whole numbers >= 1: sizes, intervals and counts.
POSITIVE_INTS = (
    "t_max", "batch_size", "buffer_size", "batch_size_run", "test_nepisode", "test_interval", "log_interval",
    "runner_log_interval", "save_model_interval", "target_update_interval", "rnn_hidden_dim",
    "mixing_embed_dim", "hypernet_embed", "hypernet_layers", "env_args.step_mul", "env_args.episode_limit",
)
#: Keys that must be whole numbers >= 0.
NON_NEGATIVE_INTS = ("learner_log_interval", "load_step", "torch_threads", "epsilon_anneal_time")
#: Keys that must be numbers > 0.
POSITIVE_NUMBERS = ("lr", "critic_lr", "optim_eps", "grad_norm_clip", "env_args.reward_scale_rate")
#: Keys that must be numbers in [0, 1].
UNIT_INTERVAL = ("gamma", "td_lambda", "optim_alpha", "epsilon_start", "epsilon_finish", "evaluation_epsilon")

#: Keys that run_sequential reads from every config: an algorithm file must define those that
#: default.yaml does not.
REQUIRED_KEYS = ("runner", "mac", "learner", "agent", "action_selector", "agent_output_type", "name", "env",
                 "env_args", "t_max", "batch_size", "buffer_size", "batch_size_run")


def _present(config: Mapping[str, Any], key: str) -> tuple[bool, Any]:
    try:
        return True, get_by_dotted_key(config, key)
    except KeyError:
        return False, None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_values(config: Mapping[str, Any]) -> None:
    """Raise a ConfigError naming the first key whose value cannot work (see the module docstring)."""
    missing = [key for key in REQUIRED_KEYS if key not in config]
    if missing:
        raise ConfigError(f"The config defines no {', '.join(repr(k) for k in missing)}: the algorithm file "
                          f"(--config={config.get('name', '?')}) must set them, as config/algs/qmix.yaml does.")
    for keys, test, wanted in (
        (POSITIVE_INTS, lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1, "a whole number >= 1"),
        (NON_NEGATIVE_INTS, lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
         "a whole number >= 0"),
        (POSITIVE_NUMBERS, lambda v: _is_number(v) and v > 0, "a number > 0"),
        (UNIT_INTERVAL, lambda v: _is_number(v) and 0 <= v <= 1, "a number between 0 and 1"),
    ):
        for key in keys:
            present, value = _present(config, key)
            if present and value is not None and not test(value):
                raise ConfigError(f"Bad value for {key!r}: it must be {wanted}, got {value!r}.")
    if "epsilon_start" in config and "epsilon_finish" in config \
            and config["epsilon_finish"] > config["epsilon_start"]:
        raise ConfigError(f"epsilon_finish ({config['epsilon_finish']}) > epsilon_start ({config['epsilon_start']}): "
                          "epsilon decays from epsilon_start down to epsilon_finish.")
    if config.get("evaluate") and not config.get("checkpoint_path"):
        raise ConfigError("evaluate=True needs checkpoint_path: the results/models/<token> folder of a run saved "
                          "with save_model=True.")
    if config.get("save_replay") and not config.get("checkpoint_path"):
        raise ConfigError("save_replay=True records the evaluation episodes of a loaded model: it needs "
                          "checkpoint_path=results/models/<token> (and evaluate=True to only evaluate).")
