"""The grammar through the interpreter: parse, errors, help, completion, modes."""

from __future__ import annotations

from pathlib import Path

import pytest

from shell.grammar.matcher import Choice
from tests.test_shell_support import BASE, Shell


@pytest.fixture
def sh(tmp_path):  # type: ignore[no-untyped-def]
    s = Shell(tmp_path)
    s.ok(*BASE)
    return s


def texts(choices: object) -> list[str]:
    assert isinstance(choices, list)
    return [c.text for c in choices if isinstance(c, Choice)]


def test_abbreviations(sh: Shell) -> None:
    assert "web1" in sh.ok("sh ho")
    assert "10.1.0.0/16" in sh.ok("sh ip ro seg prod")
    sh.ok("conf t", "vpc web", " desc a web tier", "abort")
    assert sh.state.mode == "exec"


def test_ambiguous_lists_candidates(sh: Shell) -> None:
    out = sh.run("s")
    assert out.splitlines() == ['% Ambiguous command: "s"', "% Candidates: save, show"]
    assert '% Ambiguous command: "v"' in sh.run("show v")


def test_invalid_input_has_caret_under_first_bad_token(sh: Shell) -> None:
    out = sh.run("show vpcs bogus").splitlines()
    assert out == ["  show vpcs bogus", "            ^", "% Invalid input detected at '^' marker."]
    sh.ok("configure", "vpc web")
    out = sh.run(" host h2 10.1.1.300").splitlines()
    assert out[1].index("^") == out[0].index("10.1.1.300")


def test_incomplete(sh: Shell) -> None:
    assert sh.run("show ip") == "% Incomplete command."
    sh.ok("configure")
    assert sh.run("vpc") == "% Incomplete command."


def test_semantic_errors_name_object_and_change_nothing(sh: Shell) -> None:
    sh.ok("configure", "vpc api", " segment prod", " host h2 10.1.1.11")
    before = sh.api.candidate
    out = sh.run(" host web1 10.1.2.10")  # web1 exists in vpc web
    assert out == "% vpc api: host web1 already exists in vpc web"
    assert sh.api.candidate == before
    assert sh.run(" no subnet nope") == "% vpc api: subnet nope does not exist"
    assert sh.run("no vpc nope") == "% vpc nope does not exist"
    assert sh.api.candidate == before and sh.state.mode == "config-vpc"


def test_commit_validation_errors_listed(sh: Shell) -> None:
    sh.ok("configure", "vpc api", " segment nowhere")
    out = sh.run("commit")
    assert "% vpc api: segment nowhere does not exist" in out
    assert sh.api.running.get("vpc", "api") is None


def test_no_forms(sh: Shell) -> None:
    sh.ok("configure", "vpc web", " description x", " micro-segmentation", " cidr 10.2.0.0/16")
    sh.ok(" no description", " no micro", " no cidr 10.2.0.0/16", " no host web1", " no subnet app 10.1.1.0/24")
    vpc = sh.api.candidate.get("vpc", "web")
    assert (vpc.description, vpc.micro_segmentation, vpc.cidrs, vpc.hosts, vpc.subnets) == (
        None, False, ("10.1.0.0/16",), (), ())
    sh.ok(" no cxp", "no vpc web")
    assert sh.api.candidate.get("vpc", "web") is None and sh.state.mode == "config"


def test_prefix_list_inline_entries(sh: Shell) -> None:
    sh.ok("configure", "prefix-list PL permit 10.0.0.0/8 le 24", "prefix-list PL deny 0.0.0.0/0",
          "prefix-list PL seq 7 permit 192.0.2.0/24 ge 25 le 32")
    assert [e.seq for e in sh.api.candidate.get("prefix-list", "PL").entries] == [5, 7, 10]
    sh.ok("no prefix-list PL seq 7")
    assert [e.seq for e in sh.api.candidate.get("prefix-list", "PL").entries] == [5, 10]
    sh.ok("no prefix-list PL")
    assert sh.api.candidate.get("prefix-list", "PL") is None


def test_help_at_each_level(sh: Shell) -> None:
    top = texts(sh.interp.choices(""))
    assert {"configure", "show", "ping", "assert", "commit"} <= set(top)
    assert "A.B.C.D[/N]" in texts(sh.interp.choices("show ip route "))
    assert texts(sh.interp.choices("show ip route "))[-1] == "<cr>"
    assert texts(sh.interp.choices("sh v")) == ["vpc", "vpcs"]
    sh.ok("configure")
    assert {"vpc", "segment", "cxp", "prefix-list", "resource-share", "no", "do"} <= set(texts(sh.interp.choices("")))
    sh.ok("vpc web")
    vpc_help = sh.interp.help_lines("")
    assert any(ln.split()[0] == "subnet" for ln in vpc_help)
    assert texts(sh.interp.choices("service s1 ")) == ["dns", "http", "tcp-echo", "udp-echo"]
    assert texts(sh.interp.choices("do show ip ro ")) [-1] == "<cr>"
    assert "include" in texts(sh.interp.choices("do show vpcs | "))
    assert sh.interp.help_lines("host x 1.2.3.999 ")[-2:] == ["% Invalid input detected at '^' marker.", "% 1.2.3.999 is not an IPv4 address: 999 is above 255"]


def test_question_mark_in_a_line(sh: Shell) -> None:
    out = sh.ok("show ip ?")
    assert "route" in out


def test_completion_of_keywords_and_names(sh: Shell) -> None:
    partial, got = sh.interp.completions("sh vp")
    assert partial == "vp" and [c.text for c in got] == ["vpc", "vpcs"]
    assert [c.text for c in sh.interp.completions("show vpc ")[1]] == ["web"]
    assert [c.text for c in sh.interp.completions("ping w")[1]] == ["web1"]
    sh.ok("configure", "segment dev")
    assert [c.text for c in sh.interp.completions("vpc web")[1]] == ["web"]
    sh.ok("vpc web")
    assert [c.text for c in sh.interp.completions(" segment ")[1]] == ["dev", "prod"]
    assert [c.text for c in sh.interp.completions(" no host ")[1]] == ["web1"]
    assert [c.text for c in sh.interp.completions(" host h 10.1.1.5 subnet ")[1]] == ["app"]


def test_modes_exit_end_and_fallback(sh: Shell) -> None:
    sh.ok("configure")
    assert sh.state.mode == "config"
    sh.ok("vpc web")
    assert (sh.state.mode, sh.state.name) == ("config-vpc", "web")
    sh.ok("exit")
    assert sh.state.mode == "config"
    sh.ok("cxp aws", " cloud aws", "segment dev")  # not a cxp line: falls back to config
    assert sh.state.mode == "config-segment"
    assert sh.api.candidate.get("cxp", "aws").cloud == "aws"
    sh.ok("abort")
    assert sh.state.mode == "exec"


def test_end_with_uncommitted_changes_refused_in_batch(sh: Shell) -> None:
    sh.ok("configure", "segment dev")
    out = sh.run("end")
    assert out.startswith("% Uncommitted changes found")
    assert sh.state.mode == "config-segment"
    sh.ok("commit", "end")
    assert sh.state.mode == "exec"


def test_end_asks_when_interactive(sh: Shell) -> None:
    answers = iter(["cancel", "no"])
    sh.state.ask = lambda _q: next(answers)
    sh.ok("configure", "segment dev", "end")
    assert sh.state.mode == "config-segment"
    sh.ok("end")
    assert sh.state.mode == "exec" and sh.api.candidate.get("segment", "dev") is None


def test_do_runs_exec_commands(sh: Shell) -> None:
    sh.ok("configure", "vpc web")
    assert "web1" in sh.ok(" do show hosts")
    assert sh.state.mode == "config-vpc"
    assert sh.run(" do configure").startswith("% 'do' runs exec commands")


def test_pipes(sh: Shell) -> None:
    assert sh.ok("show running-config | include cidr") == " cidr 10.1.0.0/16"
    assert sh.ok("show running-config | section vpc").splitlines()[0] == "vpc web"
    assert sh.ok("show running-config | begin vpc").startswith("vpc web")
    assert sh.ok("show running-config | count") == "Count: 8 lines"
    assert "segment" not in sh.ok("show running-config | exclude segment")
    assert '"address": "10.1.1.10"' in sh.ok("show hosts | json")
    assert sh.run("show hosts | include (").startswith("% bad regular expression")
    assert '"origin": "vpc"' in sh.ok("show ip route | json")
    # a detail view's tables sit under their titles: `section` keeps the table, and only it
    hosts = sh.ok("show vpc web | section Hosts").splitlines()
    assert hosts[0] == "Hosts" and any("web1" in ln and "10.1.1.10" in ln for ln in hosts[1:])
    assert not any("10.1.1.0/24" in ln for ln in hosts)  # the Subnets table is another section


def test_show_configuration_diff(sh: Shell) -> None:
    sh.ok("configure", "vpc web", " cidr 10.2.0.0/16", "exit", "segment dev")
    diff = sh.ok("show configuration").splitlines()
    assert "+ segment dev" in diff and "+  cidr 10.2.0.0/16" in diff


def test_paste_of_running_config_loads(sh: Shell, tmp_path) -> None:  # type: ignore[no-untyped-def]
    sh.ok("configure", "cxp aws", " cloud aws", " region us-east-1", "segment dev", " description d",
          " default-action deny", " policy 10 permit tcp any host 10.1.1.10 eq 443 log",
          "prefix-list PL permit 10.1.0.0/16", "resource-share s", " end-a segment prod prefix-list PL",
          " end-b segment dev prefix-list PL", " direction a-to-b", " nat end-a 10.1.0.0/16 to 100.64.0.0/16",
          "vpc web", " cxp aws", " service www http on web1 port 80", "commit", "end")
    text = sh.ok("show running-config")
    other = Shell(tmp_path / "other")
    other.ok("configure", *text.splitlines())
    assert other.api.candidate == sh.api.running
    other.ok("commit", "end")
    assert other.ok("show running-config") == text


def test_save_and_load(sh: Shell, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "saved.cfg"
    sh.ok(f"save {path}")
    sh.ok("configure", "no vpc web", f"load replace {path}")
    assert sh.api.candidate == sh.api.running
    bad = tmp_path / "bad.cfg"
    bad.write_text("segment x\n cidr 10.0.0.0/8\n")
    before = sh.api.candidate
    out = sh.run(f"load merge {bad}")
    assert out.startswith(f"{bad}:2: % Invalid input") and sh.api.candidate == before


def test_terminal_length_and_rollback_history(sh: Shell) -> None:
    sh.ok("terminal length 0")
    assert sh.state.term_length == 0
    sh.ok("configure", "segment dev", "commit comment second", "end")
    assert "second" in sh.ok("show commit history")
    sh.ok("rollback")
    assert sh.api.running.get("segment", "dev") is None


def test_handlers_get_typed_arguments_declared_once() -> None:
    from shell.grammar.matcher import Parsed, parse
    from shell.grammar.registry import Command
    from shell.language import GRAMMAR

    got = parse(GRAMMAR.roots["exec"], "ping web1 from web1 count 3 timeout 2 raw")
    assert isinstance(got, Parsed) and got.values == {"target": "web1", "host": "web1", "count": 3, "timeout": 2, "raw": True}
    got = parse(GRAMMAR.roots["config-segment"], "policy 10 permit tcp host 10.1.1.1 any eq 80 log")
    assert isinstance(got, Parsed)
    assert got.values == {"seq": 10, "action": "permit", "protocol": "tcp", "src": "host 10.1.1.1", "dst": "any",
                          "ports": "eq 80", "log": True}
    with pytest.raises(TypeError, match=r"lacks parameters \['port'\]"):
        Command("probe port=PORT", lambda ctx: None, ("exec",))  # a capture the handler does not take


def test_commands_and_interpreter_import_each_other_one_way() -> None:
    import ast

    from tests.paths import REPO

    def imports(path: Path) -> set[str]:
        tree = ast.parse(path.read_text())
        return {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
            a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}

    for path in [*(REPO / "shell" / "commands").glob("*.py"), REPO / "shell" / "replay.py", REPO / "shell" / "context.py"]:
        assert not imports(path) & {"shell.interpreter", "shell.language", "shell.loader"} - (
            {"shell.interpreter"} if path.name == "replay.py" else set()), path
    assert not imports(REPO / "shell" / "interpreter.py") & {"shell.language", "shell.loader", "shell.commands"}


def test_a_word_outside_a_set_says_what_the_set_holds(sh: Shell) -> None:
    """`show flows protocol gre`, `kind dns` used to print the caret alone."""
    assert sh.run("show flows protocol gre").splitlines()[-1] == "% gre is not a protocol here: tcp, udp or icmp"
    sh.ok("configure", "endpoint-service objs")
    assert sh.run("kind dns").splitlines()[-1] == "% dns is not a kind here: http or tcp-echo"
    sh.ok("exit", "segment prod")
    assert sh.run("policy 10 permit gre any any").splitlines()[-1] == "% gre is not a protocol here: ip, tcp, udp or icmp"
    assert sh.run("do show vpcs bogus").splitlines()[-1] == "% Invalid input detected at '^' marker."  # more keywords: no set


def test_show_log_count_is_described_as_lines(sh: Shell) -> None:
    assert sh.run("show log 0").splitlines()[-1] == "% Number of log lines (the newest) <1-1000>: 0 is out of range (1-1000)"
