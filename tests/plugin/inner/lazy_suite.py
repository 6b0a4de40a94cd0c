"""Run inside an inner pytest session (copied there as test_lazy.py)."""

import pytest


def test_the_plugin_is_registered(request: pytest.FixtureRequest) -> None:
    assert request.config.pluginmanager.has_plugin("aioflowserv")


def test_a_test_without_flowserv_fixtures() -> None:
    assert sum([1, 2]) == 3
