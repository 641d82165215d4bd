"""One model of the data path, pure: from the running Config and Plan, the
namespaces a packet crosses, the NAT, filters and routes at each, and the
verdict. `trace`, `verify`, `show flows` and the commit's check of
refused connections all use it (docs/design.md, "The data-path model").
"""

from engine.datapath.handler import Drop, Handler, UnknownRole, register
from engine.datapath.model import Model, model_of
from engine.datapath.packet import Hop, Outcome, Packet
from engine.datapath.walk import Walk, from_host, walk

__all__ = ["Drop", "Handler", "Hop", "Model", "Outcome", "Packet", "UnknownRole", "Walk", "from_host", "model_of", "register", "walk"]
