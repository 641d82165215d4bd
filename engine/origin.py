"""Where a counter, a log line or a part of an nft table comes from, in
intent terms: `segment corp 10`, `segment corp default`, `share x
direction`, `firewall fw 20`.

The compiler writes an origin into every counted nft rule and map element
(as its comment) and into `NftItem.sources`; `show policy hits`, `show
flows` and the commit's connection check read them back. One type with
one format and one parse, so that writer and readers cannot drift apart
(they used to build and re-split the strings in four places).
"""

from __future__ import annotations

from dataclasses import dataclass

# scope -> the configuration kind its name refers to; None: an unnamed
# scope, the lab's own machinery rather than a configured object
SCOPES: dict[str, str | None] = {
    "segment": "segment",  # entries: a policy seq, or `default`
    "share": "resource-share",  # entries: `direction`, `nat end-a|end-b`
    "firewall": "firewall",  # entries: a rule seq, or `default`
    "endpoint": "endpoint-service",  # a VPC router's endpoint translation (no entries)
    "shares": None,  # a router's filters common to all its share links: `source`, `transit`
    "fabric": None,  # a router's own table parts (the forward chain conntrack needs)
}
DEFAULT = "default"
DIRECTION = "direction"


@dataclass(frozen=True, order=True, slots=True)
class Origin:
    """A configured object (scope and name), optionally one entry of it."""

    scope: str
    name: str = ""
    entry: str = ""  # a seq as text, `default`, `direction`, ... ("" for the whole object)

    def __post_init__(self) -> None:
        if self.scope not in SCOPES:
            raise ValueError(f"unknown origin scope {self.scope!r}")

    def __str__(self) -> str:
        """The one text form: `scope name entry`, empty parts left out."""
        head = f"{self.scope} {self.name}" if self.name else self.scope
        return f"{head} {self.entry}" if self.entry else head

    @classmethod
    def parse(cls, text: str) -> Origin | None:
        """The origin a text form names; None for anything else (a comment
        of ours without an origin, or someone else's)."""
        scope, _, rest = text.partition(" ")
        if scope not in SCOPES:
            return None
        if SCOPES[scope] is None:
            return cls(scope, "", rest)
        name, _, entry = rest.partition(" ")
        return cls(scope, name, entry) if name else None

    @classmethod
    def of_entry(cls, scope: str, name: str, entry: int | str) -> Origin:
        """An entry of an object (`seq` numbers become text)."""
        return cls(scope, name, str(entry))

    def entry_text(self, entry: int | str) -> str:
        """`str(self.of_entry(...))` of one entry of this object, without
        building an Origin: the compiler writes one per policy element."""
        return f"{self.scope} {self.name} {entry}" if self.name else f"{self.scope} {entry}"

    @property
    def kind(self) -> str | None:
        """The configuration kind the name refers to (`resource-share` for a share)."""
        return SCOPES[self.scope]

    @property
    def seq(self) -> int | None:
        """The entry as a sequence number, when it is one."""
        return int(self.entry) if self.entry.isdigit() else None

    def whole(self) -> Origin:
        """The object this origin belongs to, without the entry."""
        return Origin(self.scope, self.name) if self.entry else self

    def within(self, scope: str | None, name: str | None = None) -> bool:
        """True when this origin lies in a `show policy hits [SCOPE [NAME]]`
        selection (no scope: everything)."""
        return scope is None or (self.scope == scope and (name is None or self.name == name))


def within(text: str, scope: str | None, name: str | None = None) -> bool:
    """`Origin.within` on a text form (a counter's comment); a comment that
    names no origin lies only in the unrestricted selection."""
    origin = Origin.parse(text)
    return origin.within(scope, name) if origin is not None else scope is None
