"""The console logger keeps a level set before it (``--debug``, or a notebook quieting it)."""

import logging

from pymarl_explained.main import build_experiment
from pymarl_explained.utils.logging import get_logger


def test_build_experiment_keeps_the_debug_level(tmp_path):
    logger = get_logger()
    before = logger.level
    try:
        logger.setLevel(logging.DEBUG)  # what main() does for --debug, before build_experiment
        build_experiment({"local_results_path": str(tmp_path)})
        assert get_logger().level == logging.DEBUG
        logger.setLevel(logging.WARNING)  # a notebook quieting the console
        assert get_logger().level == logging.WARNING
        assert get_logger(logging.INFO).level == logging.INFO  # an explicit level still applies
    finally:
        logger.setLevel(before)
