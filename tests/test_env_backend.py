"""Backend selection (auto / builtin / starcraft) and its error messages, with fake packages.

StarCraft II cannot be installed here, so the real SMAC package and SMAC3 are imitated by tiny
packages written to a temporary directory, and the game by an empty ``StarCraftII`` folder.
"""

from __future__ import annotations

import sys

import pytest

from pymarl_explained.envs import REGISTRY, make_batched_env, resolve_backend
from pymarl_explained.envs import backend as backend_mod
from pymarl_explained.errors import EnvironmentSetupError

FAKE_SMAC_ENV = '''
class StarCraft2Env:
    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.episode_limit = 60
        self.n_agents = 3
        self.n_enemies = 3
    def get_env_info(self):
        return {"state_shape": 48, "obs_shape": 30, "n_actions": 9, "n_agents": 3, "episode_limit": 60}
    def close(self):
        self.closed = True
'''


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """No SC2PATH, an empty home, no smac module; helpers to install fakes."""
    monkeypatch.delenv("SC2PATH", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    for name in [m for m in sys.modules if m == "smac" or m.startswith("smac.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(backend_mod, "_announced", set())

    class Box:
        def real_smac(self):
            (site / "smac" / "env").mkdir(parents=True)
            (site / "smac" / "__init__.py").write_text("")
            (site / "smac" / "env" / "__init__.py").write_text(FAKE_SMAC_ENV)

        def smac3(self):
            (site / "smac" / "facade").mkdir(parents=True)
            (site / "smac" / "__init__.py").write_text("version = '2.0.2'\nclass Scenario: pass\n")
            (site / "smac" / "facade" / "__init__.py").write_text("")

        def game(self, via_env: bool = True):
            path = tmp_path / "StarCraftII"
            path.mkdir(exist_ok=True)
            if via_env:
                monkeypatch.setenv("SC2PATH", str(path))
            else:
                (tmp_path / "home" / "StarCraftII").mkdir()
            return path

    yield Box()
    for name in [m for m in sys.modules if m == "smac" or m.startswith("smac.")]:
        del sys.modules[name]


def test_auto_without_game_is_builtin(sandbox, capsys):
    reason = "StarCraft II not found: SC2PATH unset and ~/StarCraftII missing"
    assert resolve_backend({}) == ("builtin", reason)
    env = REGISTRY["sc2"](map_name="3m")
    REGISTRY["sc2"](map_name="8m")
    assert env.backend == "builtin" and "~/StarCraftII missing" in env.backend_reason
    out = capsys.readouterr().out.strip().splitlines()
    assert out == ["[pymarl_explained] env backend: builtin "
                   "(StarCraft II not found: SC2PATH unset and ~/StarCraftII missing)"]


def test_auto_with_game_but_no_smac_is_builtin(sandbox):
    sandbox.game(via_env=False)
    backend, reason = resolve_backend({"backend": "auto"})
    assert backend == "builtin" and "SMAC package is not installed" in reason


def test_auto_with_game_and_smac3_is_builtin(sandbox):
    sandbox.game()
    sandbox.smac3()
    backend, reason = resolve_backend({})
    assert backend == "builtin" and "SMAC3" in reason


def test_auto_with_game_and_smac_is_starcraft(sandbox):
    sandbox.game()
    sandbox.real_smac()
    assert resolve_backend({})[0] == "starcraft"
    env = REGISTRY["sc2"](map_name="3m", difficulty="7")
    assert env.backend == "starcraft"
    assert env.get_env_info()["obs_shape"] == 30 and env.episode_limit == 60
    assert env._env.kwargs["difficulty"] == "7" and "backend" not in env._env.kwargs
    with pytest.raises(EnvironmentSetupError, match="built-in simulator"):
        make_batched_env(4, map_name="3m")


def test_builtin_is_builtin_even_with_everything_installed(sandbox):
    sandbox.game()
    sandbox.real_smac()
    assert resolve_backend({"backend": "builtin"})[0] == "builtin"
    assert REGISTRY["sc2"](map_name="3m", backend="builtin").backend == "builtin"
    assert make_batched_env(2, map_name="3m", backend="builtin", seed=1).backend == "builtin"


def test_starcraft_with_smac3_says_how_to_fix(sandbox):
    sandbox.game()
    sandbox.smac3()
    with pytest.raises(EnvironmentSetupError) as err:
        REGISTRY["sc2"](map_name="3m", backend="starcraft")
    msg = str(err.value)
    assert "SMAC3" in msg and "pip uninstall smac" in msg
    assert "git+https://github.com/oxwhirl/smac.git" in msg


def test_starcraft_without_smac(sandbox):
    sandbox.game()
    with pytest.raises(EnvironmentSetupError, match="pip install git\\+https://github.com/oxwhirl/smac.git"):
        REGISTRY["sc2"](map_name="3m", backend="starcraft")


def test_starcraft_without_game_says_sc2path(sandbox, monkeypatch, tmp_path):
    sandbox.real_smac()
    with pytest.raises(EnvironmentSetupError, match="SC2PATH unset.*install StarCraft II"):
        REGISTRY["sc2"](map_name="3m", backend="starcraft")
    monkeypatch.setenv("SC2PATH", str(tmp_path / "nowhere"))
    with pytest.raises(EnvironmentSetupError, match="does not exist"):
        REGISTRY["sc2"](map_name="3m", backend="starcraft")


def test_starcraft_with_marine_micro_map(sandbox):
    sandbox.game()
    sandbox.real_smac()
    with pytest.raises(EnvironmentSetupError, match="MarineMicro_MvsM_4.SC2Map.*backend='builtin'"):
        REGISTRY["sc2"](map_name="MarineMicro_MvsM_4", backend="starcraft")
