"""The running lab as the data-path handlers read it: Config, Plan, indexes.

One `Model` per (config, plan): it indexes the plan's graph once and
memoises what the handlers ask repeatedly (a segment's policy judge, the
share links of a router, the services of a host), so `verify`'s hundreds
of walks cost little more than one.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from engine.addressing import SERVICE_TRANSPORTS, service_port
from engine.compile import naming
from engine.datapath.endpoints import NONE as NO_ENDPOINTS
from engine.datapath.endpoints import RouterEndpoints
from engine.datapath.endpoints import by_router as endpoints_by_router
from engine.datapath.graph import Graph
from engine.datapath.policy import PolicyJudge, judge_for
from engine.datapath.shares import ShareLink, share_links
from engine.model import Config, Host, Vpc
from engine.plan import Plan


@dataclass(frozen=True)
class Listener:
    """A service listening on a host."""

    name: str
    kind: str
    proto: str
    port: int


_NONE: dict[str, ShareLink] = {}


class Model:
    """Config and Plan of one running lab, indexed for walks."""

    def __init__(self, lab: str, config: Config, plan: Plan) -> None:
        self.lab = lab
        self.config = config
        self.plan = plan
        self.graph = Graph(plan, lab)
        self._judges: dict[str, PolicyJudge | None] = {}
        self._routers: dict[str, tuple[str, str] | None] = {}

    # namespaces -> intent ----------------------------------------------------------

    def host_ns(self, host: str) -> str:
        """The namespace of a host."""
        return naming.host_ns(self.lab, host)

    def host_at(self, ns: str) -> tuple[Vpc, Host] | None:
        """The host living in namespace `ns`."""
        return self._hosts_by_ns.get(ns)

    @cached_property
    def _hosts_by_ns(self) -> dict[str, tuple[Vpc, Host]]:
        return {naming.host_ns(self.lab, h.name): (v, h) for v, h in self.config.hosts()}

    def vpc_at(self, ns: str) -> Vpc | None:
        """The VPC whose router is namespace `ns`."""
        head = f"{self.lab}-v-"
        return self.config.get("vpc", ns[len(head):]) if ns.startswith(head) else None

    def router_at(self, ns: str) -> tuple[str, str] | None:
        """(segment, cxp) of a segment router namespace (memoised: flows ask per entry)."""
        try:
            return self._routers[ns]
        except KeyError:
            pass
        head = f"{self.lab}-s-"
        where = None
        if ns.startswith(head):
            seg, _, cxp = ns[len(head):].rpartition("@")
            where = (seg, cxp)
        self._routers[ns] = where
        return where

    # what handlers ask ------------------------------------------------------------

    def judge(self, segment: str) -> PolicyJudge | None:
        """The segment's policy judge (None: no policy chain)."""
        if segment not in self._judges:
            self._judges[segment] = judge_for(self.config, segment)
        return self._judges[segment]

    def share_links(self, ns: str) -> dict[str, ShareLink]:
        """Share links held by a segment router, by interface name."""
        return self._share_links.get(ns, _NONE)

    @cached_property
    def _share_links(self) -> dict[str, dict[str, ShareLink]]:
        return share_links(self.config, self.lab)

    def endpoints_at(self, ns: str) -> RouterEndpoints:
        """The endpoints a VPC router holds (none for any other namespace)."""
        return self._endpoints.get(ns, NO_ENDPOINTS)

    @cached_property
    def _endpoints(self) -> dict[str, RouterEndpoints]:
        return endpoints_by_router(self.lab, self.config)

    def listeners(self, host: str) -> list[Listener]:
        """Services listening on a host, one per (protocol, port)."""
        return self._listeners.get(host, [])

    @cached_property
    def _listeners(self) -> dict[str, list[Listener]]:
        out: dict[str, list[Listener]] = {}
        for vpc in self.config.vpcs:
            for svc in vpc.services:
                port = service_port(svc.kind, svc.port)
                for proto in SERVICE_TRANSPORTS.get(svc.kind, ()):
                    out.setdefault(svc.host, []).append(Listener(svc.name, svc.kind, proto, port))
        return out


_LAST: list[Model] = []


def model_of(lab: str, config: Config, plan: Plan) -> Model:
    """The model of a running lab, rebuilt only when its plan changed (the
    session keeps one Plan object per running configuration)."""
    if _LAST and _LAST[0].plan is plan and _LAST[0].config is config and _LAST[0].lab == lab:
        return _LAST[0]
    model = Model(lab, config, plan)
    _LAST[:] = [model]
    return model
