"""Checks of hubs (cxp)."""

from __future__ import annotations

from collections.abc import Iterable

from engine.errors import Diagnostic
from engine.model import Config

CLOUDS = ("aws", "azure", "gcp", "oci", "private")


def check(config: Config, previous: Config) -> Iterable[Diagnostic]:
    """A hub's cloud must be one CLI.md names."""
    for cxp in config.cxps:
        if cxp.cloud is not None and cxp.cloud not in CLOUDS:
            yield Diagnostic(f"cxp {cxp.name}", f"unknown cloud {cxp.cloud} (use {'|'.join(CLOUDS)})")
