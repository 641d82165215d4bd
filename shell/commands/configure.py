"""Configuration commands, derived from `shell.schema` and nothing else.

For every object kind: the header (`vpc NAME` enters its mode; an inline
kind's header is itself an entry), `no KIND NAME`, and for every line of its
mode the line and its `no` form. Handlers edit the candidate by building a
new Config; a failing line raises before anything is stored.
"""

from __future__ import annotations

from typing import Any

from engine.model import CORE_CXP, Cxp
from shell.binding import Binding, LineError, hints
from shell.context import Context
from shell.grammar.registry import Command, Handler
from shell.grammar.syntax import Arg, Cap, Element, Kw, Opt, Seq, parse_syntax
from shell.grammar.types import existing_items
from shell.schema import OBJECT_KINDS, Line, ObjectKind
from shell.state import ShellState


def _store(state: ShellState, kind: str, obj: Any) -> None:
    config = state.api.candidate.put(kind, obj)
    if kind == "cxp" and obj == Cxp(CORE_CXP):  # 'core' is implicit when unconfigured
        config = config.remove(kind, CORE_CXP)
    state.api.set_candidate(config)


def _current(state: ShellState) -> Any:
    obj = state.mode_object
    if obj is None:  # removed from under its own mode (e.g. by a fallen-back 'no')
        raise LineError(f"{state.kind} {state.name} no longer exists; 'exit' and configure it again")
    return obj


def no_form(elem: Element, keys: tuple[str, ...], items_field: str | None = None) -> tuple[Element, tuple[str, ...]]:
    """`no` + a line: its keywords and key captures, the rest optional.

    `no subnet web` removes the subnet without repeating its prefix, as in
    IOS; the line is complete once the keywords (captured as `_lead`) and the
    keys are given.
    """
    items = list(elem.items) if isinstance(elem, Seq) else [elem]
    lead: list[Element] = []
    while items and isinstance(items[0], Kw):
        lead.append(items.pop(0))
    head: list[Element] = [Kw("no"), Cap("_lead", lead[0] if len(lead) == 1 else Seq(tuple(lead)))]
    need = ["_lead"]
    if items and isinstance(items[0], Cap) and items[0].name in keys:
        key = items.pop(0)
        assert isinstance(key, Cap)
        if items_field and isinstance(key.item, Arg):  # complete what exists
            key = Cap(key.name, Arg(existing_items(items_field, key.name, key.item.type)))
        head.append(key)
        need.append(key.name)
    if items:
        head.append(Opt(items[0] if len(items) == 1 else Seq(tuple(items))))
    return Seq(tuple(head)), tuple(need)


# handlers -----------------------------------------------------------------------


def _enter(kind: ObjectKind) -> Handler:
    def handler(ctx: Context, name: str) -> None:
        state = ctx.state
        if state.api.candidate.get(kind.kind, name) is None:
            _store(state, kind.kind, kind.model(name))
        assert kind.mode is not None
        state.enter(kind.mode, kind.kind, name)

    return handler


def _remove_object(kind: ObjectKind) -> Handler:
    def handler(ctx: Context, **values: Any) -> None:
        state = ctx.state
        name = values["name"]
        cand = state.api.candidate
        if name not in cand.names(kind.kind):
            raise LineError(f"{kind.kind} {name} does not exist")
        binding = kind.inline_binding()
        if binding and set(values) & set(hints(binding.item_cls)):  # type: ignore[arg-type]
            obj = binding.remove(cand.get(kind.kind, name), values, f"{kind.kind} {name}")
            if getattr(obj, binding.field):
                _store(state, kind.kind, obj)
                return
        state.api.set_candidate(cand.remove(kind.kind, name))

    return handler


def _set_inline(kind: ObjectKind, binding: Binding) -> Handler:
    def handler(ctx: Context, **values: Any) -> None:
        state = ctx.state
        obj = state.api.candidate.get(kind.kind, values["name"]) or kind.model(values["name"])
        check = kind.inline.check if kind.inline else None
        if check and (problem := check(state.api.candidate, obj, values)):
            raise LineError(problem)
        _store(state, kind.kind, binding.apply(obj, values))

    return handler


def _set_line(kind: ObjectKind, line: Line, binding: Binding) -> Handler:
    def handler(ctx: Context, **values: Any) -> None:
        state = ctx.state
        obj = _current(state)
        if line.check:
            problem = line.check(state.api.candidate, obj, values)
            if problem:
                raise LineError(problem)
        _store(state, kind.kind, binding.apply(obj, values))

    return handler


def _unset_line(kind: ObjectKind, binding: Binding) -> Handler:
    def handler(ctx: Context, **values: Any) -> None:
        state = ctx.state
        obj = _current(state)
        _store(state, kind.kind, binding.remove(obj, values, f"{kind.kind} {obj.name}"))

    return handler


# declarations ---------------------------------------------------------------------


def _keys(binding: Binding) -> tuple[str, ...]:
    if binding.shape == "items":
        return (binding.key,)  # type: ignore[return-value]
    return (binding.field,) if binding.shape == "strings" else ()


def _kind_commands(kind: ObjectKind) -> list[Command]:
    help_ = {"name": f"Name of the {kind.kind}"}
    inline = kind.inline_binding()
    out: list[Command] = []
    if inline is not None:
        assert kind.inline is not None
        out.append(Command(kind.inline.syntax, _set_inline(kind, inline), ("config",), kind.inline.help or kind.help,
                           edits=True))
        elem, need = no_form(parse_syntax(kind.inline.syntax), ("name",))
        out.append(Command(f"no {kind.inline.syntax}", _remove_object(kind), ("config",), help_,
                           accept_partial=need, edits=True, element=elem))
        return out
    out.append(Command(kind.header, _enter(kind), ("config",), kind.help, edits=True))
    out.append(Command(f"no {kind.kind} name={kind.ref}", _remove_object(kind), ("config",), help_, edits=True))
    assert kind.mode is not None
    for line, binding in kind.bindings():
        out.append(Command(line.syntax, _set_line(kind, line, binding), (kind.mode,), line.help, edits=True))
        elem, need = no_form(binding.element, _keys(binding), binding.field)
        no_help = line.help if isinstance(line.help, dict) else {binding.words()[-1]: line.help}
        out.append(Command(f"no {line.syntax}", _unset_line(kind, binding), (kind.mode,), no_help, accept_partial=need,
                           edits=True, element=elem))
    return out


def commands() -> list[Command]:
    """Every configuration command of every declared kind."""
    return [c for kind in OBJECT_KINDS for c in _kind_commands(kind)]
