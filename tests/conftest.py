"""Shared fixtures: throwaway labs with their own names and state directories.

Lab tests need root and the Debian packages; they fail (never skip) when
those are missing, so CI cannot pass without running them.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REQUIRED_COMMANDS = ("ip", "nft", "ping", "traceroute", "conntrack", "dig")


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A lab test on a machine without root or packages fails loudly."""
    if item.get_closest_marker("lab") is None:
        return
    if os.geteuid() != 0:
        pytest.fail("lab tests need root (they build network namespaces); run 'make test' as root")
    missing = [c for c in REQUIRED_COMMANDS if shutil.which(c) is None]
    if missing:
        pytest.fail(f"lab tests need {', '.join(missing)}: run 'make setup' (installs the Debian packages)")


def new_lab_name() -> str:
    """A unique lab name for one test (lab names have no '-')."""
    return "t_" + uuid.uuid4().hex[:8]


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Lab state goes to a temporary directory, not /run/vpclab."""
    path = tmp_path / "state"
    monkeypatch.setenv("VPCLAB_STATE_DIR", str(path))
    return path


@pytest.fixture
def make_lab(state_dir: Path) -> Iterator[Callable[..., object]]:
    """Factory of real labs (LabApi over LinuxFabric); all destroyed at the end."""
    from engine.api import LabApi
    from lab.fabric import LinuxFabric

    made: list[LabApi] = []

    def factory(name: str | None = None, **fabric_kw: object) -> LabApi:
        lab_name = name or new_lab_name()
        api = LabApi(lab_name, LinuxFabric(lab_name, **fabric_kw))  # type: ignore[arg-type]
        made.append(api)
        return api

    yield factory
    for api in made:
        api.destroy()
        from lab import netns, services

        assert not netns.list_names(api.name + "-"), f"lab {api.name} left namespaces"
        assert not services.scan(services.marker(api.name + "/")), f"lab {api.name} left service processes"
