"""Parser, engine rules and CLI on small inline tests (herd syntax)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from fpatch.cli import main
from fpatch.isa.cmodx import NOP
from fpatch.litmus import LitmusSyntaxError, LitmusUnsupported, check
from fpatch.litmus.parse import AndP, Atom, MemLoc, Not, OrP, RegLoc, parse_litmus

SM_B = """AArch64 SM.B+{name}
{{ 0:X0=NOP; 0:X1=P0:L0; 0:X9=0; }}
P0              ;
    STR W0,[X1] ;
{body}
L0: B L1        ;
    MOV W9,#1   ;
L1:             ;
exists 0:X9=0
"""


def sm_b(body: list[str], cache: str = "") -> str:
    text = SM_B.format(name="x", body="\n".join(f"    {b} ;" for b in body))
    if cache:
        text = text.replace("\n{", f"\nCacheType={cache}\n{{", 1)
    return text


def verdict(text: str) -> str:
    return check(parse_litmus(text)).text()


# ----------------------------------------------------------------------- parser


def test_parse_threads_labels_init_and_condition() -> None:
    t = parse_litmus("""AArch64 demo
Stable=X9
{ 0:X0=NOP; 0:X1=P1:m0; [x]=P1:L; ins_t *1:X1; 1:X2=label:"P1:m0"; 0:X4=instr:"B .+12";
  x=3; (* a comment; with a semicolon *) }
 P0          | P1        ;
 STR W0,[X1] | m0: B L   ;
             | MOV W9,#1 ;
             | L:        ;
exists (1:X9=0 /\\ ~x=1) \\/ 0:W0=1
""")
    assert t.name == "demo" and len(t.threads) == 2
    m0 = t.threads[1].labels["m0"]
    assert t.regs[(0, "x0")] == NOP and t.regs[(0, "x1")] == m0 and t.regs[(1, "x2")] == m0
    assert t.regs[(0, "x4")] == 0x14000003
    assert t.mem["x"] == 3  # the later entry wins
    assert t.threads[1].labels["L"] == t.threads[1].end
    c = t.condition
    assert isinstance(c, OrP) and isinstance(c.args[0], AndP)
    assert c.args[0].args[0] == Atom(RegLoc(1, "x9", True), 0)
    assert c.args[0].args[1] == Not(Atom(MemLoc("x"), 1))
    assert c.args[1] == Atom(RegLoc(0, "x0", False), 1)
    assert t.quantifier == "exists"


def test_parse_cache_type_and_quantifiers() -> None:
    t = parse_litmus(sm_b(["DSB ISH"], "IDC DIC").replace("exists", "~exists"))
    assert (t.idc, t.dic, t.quantifier) == (True, True, "~exists")
    assert parse_litmus(sm_b([], "IDC")).idc and not parse_litmus(sm_b([], "IDC")).dic


@pytest.mark.parametrize(("text", "why"), [
    ("AArch64 t\n{ }\n P0 | P0.F ;\n NOP | NOP ;\nexists 0:X0=0", "exception handler"),
    ("AArch64 t\n{ pte_x=(oa:phy_x); }\n P0 ;\n NOP ;\nexists 0:X0=0", "page tables"),
    ("AArch64 t\n{ }\n P0 ;\n LDR W4,[X5,W6,SXTW] ;\nexists 0:X0=0", "not supported"),
])
def test_unsupported_constructs(text: str, why: str) -> None:
    with pytest.raises(LitmusUnsupported, match=why):
        parse_litmus(text)
    assert why in verdict_or_reason(text)


def verdict_or_reason(text: str) -> str:
    try:
        return verdict(text)
    except LitmusUnsupported as e:
        return str(e)


@pytest.mark.parametrize("text", ["", "X86 t\n{}\nP0;\nNOP;\nexists 0:X0=0",
                                  "AArch64 t\n{ }\n P0 ;\n NOP ;\n",
                                  "AArch64 t\n{ }\n P1 ;\n NOP ;\nexists 0:X0=0"])
def test_syntax_errors(text: str) -> None:
    with pytest.raises(LitmusSyntaxError):
        parse_litmus(text)


# ----------------------------------------------------------------------- engine


@pytest.mark.parametrize(("body", "cache", "expected"), [
    ([], "", "Allowed"),
    (["ISB"], "", "Allowed"),
    (["DC CVAU,X1", "DSB ISH", "IC IVAU,X1", "DSB ISH", "ISB"], "", "Forbidden"),
    (["DC CVAU,X1", "DSB ISH", "IC IVAU,X1", "DSB ISH"], "", "Allowed"),  # no CSE
    (["DSB ISH", "IC IVAU,X1", "DSB ISH", "DC CVAU,X1", "DSB ISH", "ISB"], "", "Allowed"),
    (["DC CVAU,X1", "DSB ST", "IC IVAU,X1", "DSB ISH", "ISB"], "", "Allowed"),  # DSB ST
    (["DC CVAU,X1", "DSB ISH", "IC IALLU", "DSB ISH", "ISB"], "", "Forbidden"),
    # IDC=1: no clean needed; DIC=1 and IDC=1: a DSB is enough
    (["DSB ISHST", "IC IVAU,X1", "DSB ISH", "ISB"], "IDC", "Forbidden"),
    (["DSB ISHST", "IC IVAU,X1", "DSB ISH", "ISB"], "", "Allowed"),
    (["DSB ISH", "ISB"], "IDC DIC", "Forbidden"),
    (["DSB ISH", "ISB"], "IDC", "Allowed"),
])
def test_publication_rules_per_cache_type(body: list[str], cache: str, expected: str) -> None:
    assert verdict(sm_b(body, cache)) == expected


def test_forall_and_not_exists() -> None:
    full = ["DC CVAU,X1", "DSB ISH", "IC IVAU,X1", "DSB ISH", "ISB"]
    assert verdict(sm_b(full).replace("exists 0:X9=0", "forall 0:X9=1")) == "Required"
    assert verdict(sm_b([]).replace("exists 0:X9=0", "forall 0:X9=1")) == "Allowed"
    assert verdict(sm_b(full).replace("exists", "~exists")) == "Forbidden"


def test_flags_and_conditional_branches() -> None:
    text = """AArch64 flags
{ 0:X1=5; 0:X2=7; }
 P0             ;
 CMP W1,W2      ;
 CSET W3,LT     ;
 CSEL X4,X1,X2,GT ;
 B.LE L1        ;
 MOV W5,#1      ;
L1:             ;
 EOR W6,W1,W2   ;
exists 0:X3=1 /\\ 0:X4=7 /\\ 0:X5=0 /\\ 0:X6=2
"""
    assert verdict(text.replace("exists", "forall")) == "Required"


def test_speculative_maintenance_on_a_path_not_taken_is_discarded() -> None:
    # The IC sits behind a branch that is always taken: it never happens, so the
    # stale fetch after the ISB stays possible.
    text = """AArch64 spec
{ 0:X0=NOP; 0:X1=P0:L0; 0:X2=1; }
 P0             ;
 STR W0,[X1]    ;
 DC CVAU,X1     ;
 DSB ISH        ;
 CBNZ X2,L2     ;
 IC IVAU,X1     ;
L2:             ;
 DSB ISH        ;
 ISB            ;
L0: B L1        ;
 MOV W9,#1      ;
L1:             ;
exists 0:X9=0
"""
    assert verdict(text) == "Allowed"


def test_ic_ordered_before_forbids_a_stale_refetch() -> None:
    """coFF+cachesync (catalogue, Forbidden): the second call cannot fetch the initial
    word once the first fetched the second write. Either the IC is ordered before the
    second fetch (then ic-ca orders the IC before the DC, against DSB-ob), or the
    fetch is before the IC, and IC-ordered-before puts the first fetch before the
    second write it read from: a cycle either way."""
    coff = """AArch64 coFF+cachesync
{  0:X0=NOP; 0:X1=P1:l1; 0:X2=instr:"B .+12"; }
 P0          | P1            ;
 STR W2,[X1] |     BL l1     ;
 DC CVAU,X1  |     MOV W1,W9 ;
 DSB ISH     |     BL l1     ;
 IC IVAU,X1  |     MOV W2,W9 ;
 DSB ISH     |     BL end    ;
 STR W0,[X1] |               ;
             | l1: B j0      ;
             |     MOV W9,#2 ;
             |     RET       ;
             | j1: MOV W9,#1 ;
             |     RET       ;
             | j0: MOV W9,#0 ;
             |     RET       ;
             | end:          ;
exists (1:X1=2 /\\ 1:X2=0)
"""
    t = parse_litmus(coff)
    assert check(t).verdict == "Forbidden"
    assert check(t, "smt").verdict == "Forbidden"
    # without the writer's maintenance the stale refetch is allowed
    weak = coff.replace(" DC CVAU,X1  |", " NOP         |").replace(" IC IVAU,X1  |", " NOP         |")
    assert check(parse_litmus(weak)).verdict == "Allowed"


def test_weak_data_message_passing_needs_barriers() -> None:
    """Data accesses are not sequentially consistent: MP without barriers is Allowed,
    with DMB ST + an address dependency (or release/acquire) Forbidden."""
    mp = """AArch64 MP{v}
{{ 0:X1=x; 0:X3=y; 1:X1=x; 1:X3=y; }}
 P0            | P1              ;
 MOV W0,#1     | {r0}            ;
 STR W0,[X1]   | {r1}            ;
 {b}           | {r2}            ;
 {w}           | {r3}            ;
exists 1:X4=1 /\\ 1:X6=0
"""
    plain = mp.format(v="", r0="LDR W4,[X3]", r1="NOP", r2="LDR W6,[X1]", r3="NOP",
                      b="NOP", w="STR W0,[X3]")
    fenced = mp.format(v="f", r0="LDR W4,[X3]", r1="EOR X5,X4,X4", r2="ADD X7,X1,X5",
                       r3="LDR W6,[X7]", b="DMB ST", w="STR W0,[X3]")
    relacq = mp.format(v="ra", r0="LDAR W4,[X3]", r1="NOP", r2="LDR W6,[X1]", r3="NOP",
                       b="NOP", w="STLR W0,[X3]")
    assert verdict(plain) == "Allowed"
    assert verdict(fenced.replace("DMB ST", "NOP")) == "Allowed"  # the writer reorders
    assert verdict(fenced) == "Forbidden"
    assert verdict(relacq) == "Forbidden"
    for text in (plain, fenced, relacq):
        assert check(parse_litmus(text), "smt").verdict == verdict(text)


def test_loops_are_unsupported_not_guessed() -> None:
    text = "AArch64 loop\n{ }\n P0 ;\nL0: B L0 ;\nexists 0:X0=0\n"
    a = check(parse_litmus(text))
    assert a.verdict == "unsupported" and "loop" in a.reason


def test_undefined_instruction_is_unsupported() -> None:
    text = sm_b(["DC CVAU,X1", "DSB ISH", "IC IVAU,X1", "DSB ISH", "ISB"]).replace(
        "0:X0=NOP", "0:X0=0")
    a = check(parse_litmus(text))
    assert a.verdict == "unsupported" and "not a supported instruction" in a.reason


# -------------------------------------------------------------------------- CLI


def test_cli_files_lists_and_compare(tmp_path: Path) -> None:
    full = ["DC CVAU,X1", "DSB ISH", "IC IVAU,X1", "DSB ISH", "ISB"]
    (tmp_path / "a.litmus").write_text(sm_b(full).replace("SM.B+x", "A"))
    (tmp_path / "b.litmus").write_text(sm_b([]).replace("SM.B+x", "B"))
    (tmp_path / "c.litmus").write_text(sm_b([]).replace("SM.B+x", "C"))
    (tmp_path / "all").write_text("a.litmus\nb.litmus\n")
    kinds = tmp_path / "kinds.txt"
    kinds.write_text("A Forbidden\nB Allowed\n")
    r = CliRunner().invoke(main, ["litmus", f"@{tmp_path / 'all'}"])
    assert r.exit_code == 0 and "A" in r.output and "Forbidden" in r.output
    r = CliRunner().invoke(main, ["litmus", str(tmp_path), "--compare", str(kinds)])
    assert r.exit_code == 0, r.output
    assert "2 agree, 0 disagree, 0 unsupported, 1 no expectation" in r.output
    kinds.write_text("A Allowed\nB Allowed\n")
    r = CliRunner().invoke(main, ["litmus", str(tmp_path), "--compare", str(kinds)])
    assert r.exit_code == 1 and "DISAGREE" in r.output
    (tmp_path / "d.litmus").write_text("garbage")
    r = CliRunner().invoke(main, ["litmus", str(tmp_path / "d.litmus")])
    assert r.exit_code == 2 and "cannot read" in r.output  # invalid input: exit 2


def test_candidate_explosion_is_unsupported_not_slow() -> None:
    """Nine stores to one location have 9! coherence orders: more than the explicit
    evaluator enumerates; the answer is unsupported at once, never a guess."""
    stores = [f" STR W{i % 8 + 1},[X9] | {'LDR W1,[X9]' if i == 0 else ''} ;" for i in range(9)]
    init = "; ".join(f"0:X{i + 1}={i + 1}" for i in range(8))
    text = f"AArch64 many\n{{ {init}; 0:X9=x; 1:X9=x; }}\n P0 | P1 ;\n" + "\n".join(stores) + \
        "\nexists 1:X1=1\n"
    a = check(parse_litmus(text))
    assert a.verdict == "unsupported" and "candidate executions" in a.reason
    # 12 stores: 11! coherence orders, counted before any is built (this once took 24 GB)
    stores = [f" STR W{i % 8 + 1},[X9] | {'LDR W1,[X9]' if i == 0 else ''} ;" for i in range(12)]
    text = f"AArch64 many12\n{{ {init}; 0:X9=x; 1:X9=x; }}\n P0 | P1 ;\n" + "\n".join(stores) + \
        "\nexists 1:X1=1\n"
    a = check(parse_litmus(text))
    assert a.verdict == "unsupported" and "candidate executions" in a.reason
