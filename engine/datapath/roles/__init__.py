"""The built-in role handlers; importing this package registers them.

A feature that adds a kind of namespace (firewall instances, the internet
edge, public hosts, provider services) adds its handler module here, one
import line, and registers it with `@register(ROLE)` (engine/datapath/handler.py).
"""

from engine.datapath.roles import host, provider, segment, vpc  # noqa: F401
