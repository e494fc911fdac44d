"""Config merge order, override parsing and the errors for bad input."""

from __future__ import annotations

import pytest

from pymarl_explained.errors import ConfigError
from pymarl_explained.main import _get_config, _get_other_config, parse_command_line
from pymarl_explained.utils.config_utils import (
    available_configs,
    check_override,
    load_config,
    load_yaml_config,
    parse_value,
    recursive_dict_update,
)


def test_available_configs():
    assert {"qmix", "vdn", "iql"} <= set(available_configs("algs"))
    assert "sc2" in available_configs("envs")


def test_merge_order_default_env_alg():
    default = load_yaml_config("default")
    config = load_config("qmix", "sc2")
    assert default["test_interval"] == 2000 and config["test_interval"] == 10000  # env file wins
    assert default["buffer_size"] == 32 and config["buffer_size"] == 5000  # alg file wins
    assert config["t_max"] == 2050000  # from sc2.yaml
    assert config["env_args"]["map_name"] == "3m"
    assert config["mixer"] == "qmix" and config["hypernet_layers"] == 2
    assert load_config("iql")["mixer"] is None
    assert load_config("vdn")["mixer"] == "vdn"


def test_recursive_update_keeps_nested_keys():
    d = {"env_args": {"map_name": "3m", "step_mul": 8}, "lr": 1}
    recursive_dict_update(d, {"env_args": {"map_name": "8m"}})
    assert d == {"env_args": {"map_name": "8m", "step_mul": 8}, "lr": 1}


def test_overrides_dotted_and_typed():
    config = load_config("qmix", "sc2", {"env_args.map_name": "MarineMicro_MvsM_4", "t_max": "20000",
                                         "lr": 1, "double_q": "false", "seed": 7})
    assert config["env_args"]["map_name"] == "MarineMicro_MvsM_4"
    assert config["env_args"]["step_mul"] == 8
    assert config["t_max"] == 20000 and isinstance(config["t_max"], int)
    assert config["lr"] == 1.0 and isinstance(config["lr"], float)
    assert config["double_q"] is False
    assert config["seed"] == 7
    assert load_config(overrides={"t_max": 2e6})["t_max"] == 2000000


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("t_mx", 5, "Unknown config key 't_mx'.*Did you mean 't_max'"),
        ("env_args.map_nme", "3m", "Did you mean 'env_args.map_name'"),
        ("t_max", "abc", "Bad value for 't_max': expected int"),
        ("double_q", "yes", "expected bool"),
        ("lr", "fast", "expected float"),
    ],
)
def test_bad_overrides(key, value, message):
    with pytest.raises(ConfigError, match=message):
        load_config("qmix", "sc2", {key: value})


def test_unknown_config_names_list_valid_ones():
    message = r"Unknown --config 'qmx'. Did you mean 'qmix'.*Valid values of --config: .*iql, .*qmix, .*vdn"
    with pytest.raises(ConfigError, match=message):
        load_config("qmx")
    with pytest.raises(ConfigError, match="Unknown --env-config 'sc3'"):
        load_config("qmix", "sc3")


def test_parse_value_like_sacred():
    assert parse_value("2050000") == 2050000
    assert parse_value("0.5") == 0.5
    assert parse_value("True") is True and parse_value("true") is True
    assert parse_value("null") is None
    assert parse_value("MarineMicro_MvsM_4") == "MarineMicro_MvsM_4"
    assert parse_value("[1, 2]") == [1, 2]


def test_document_argv_is_traced_like_the_package_layout_notes():
    """The package layout notes' example: _get_config pops each config name, _get_other_config the extras."""
    params = ["main.py", "--env-config=sc2", "--config=qmix", "--seed=123", "--debug"]
    assert _get_config(params, "--env-config") == "sc2"
    assert params == ["main.py", "--config=qmix", "--seed=123", "--debug"]
    assert _get_config(params, "--config") == "qmix"
    assert params == ["main.py", "--seed=123", "--debug"]
    assert _get_other_config(params) == {"seed": 123, "debug": True}
    assert params == ["main.py"]


def test_extras_and_with_overrides_are_checked_alike():
    """``--key=value`` extras go through the same checks as ``with`` overrides (dotted keys too)."""
    config, _ = parse_command_line(["main.py", "--config=qmix", "--env_args.map_name=8m", "with", "t_max=100"])
    assert config["env_args"]["map_name"] == "8m" and config["t_max"] == 100 and "env_args.map_name" not in config
    with pytest.raises(ConfigError, match="Unknown config key 't_mx'"):
        parse_command_line(["main.py", "--config=qmix", "--t_mx=5"])
    with pytest.raises(ConfigError, match="Bad value for 't_max'"):
        parse_command_line(["main.py", "--config=qmix", "--t_max=abc"])
    # `with` wins over an extra for the same key
    config, _ = parse_command_line(["main.py", "--config=qmix", "--t_max=5", "with", "t_max=7"])
    assert config["t_max"] == 7


def test_parse_command_line_pymarl_syntax():
    argv = ["main.py", "--config=qmix", "--env-config=sc2", "with",
            "env_args.map_name=MarineMicro_MvsM_4", "t_max=2e6"]
    config, rest = parse_command_line(argv)
    assert config["env_args"]["map_name"] == "MarineMicro_MvsM_4"
    assert config["t_max"] == 2000000
    # sacred receives the checked values, with their proper types
    assert rest == ["main.py", "with", "env_args.map_name='MarineMicro_MvsM_4'", "t_max=2000000"]


def test_parse_command_line_rejects_typos_and_keeps_sacred_options():
    with pytest.raises(ConfigError, match="Did you mean 't_max'"):
        parse_command_line(["main.py", "--config=qmix", "with", "t_mx=10"])
    with pytest.raises(ConfigError, match="Unknown config key 'nonsense'"):
        parse_command_line(["main.py", "--config=qmix", "--nonsense=3"])
    _, rest = parse_command_line(["main.py", "--config=iql", "--name=myrun", "--unobserved"])
    assert rest == ["main.py", "--name=myrun", "--unobserved"]


def test_check_override_empty_env_args_accepts_subkeys():
    assert check_override({"env_args": {}}, "env_args.anything", 3) == 3


@pytest.mark.parametrize("value", ["abc", 1.5, True, -1])
def test_seed_must_be_a_non_negative_int(value):
    with pytest.raises(ConfigError, match="Bad value for 'seed'"):
        load_config(overrides={"seed": value})
    assert load_config(overrides={"seed": 12})["seed"] == 12


def test_sacred_tokens_after_with_are_kept():
    _, rest = parse_command_line(["main.py", "--config=qmix", "with", "my_named_config", "t_max=50"])
    assert rest == ["main.py", "with", "my_named_config", "t_max=50"]
