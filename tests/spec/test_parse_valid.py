"""What docs/spec-format.md promises a valid spec means: defaults, instruction
forms, labels and targets, write forms."""

from __future__ import annotations

from fpatch.spec.parse import parse_text
from fpatch.spec.types import DEFAULT_LIVE, CacheOp, Dsb, IpiSync, Isb, StopMachine, WaitTasks

from .helpers import BASE, edit

NOP, BL_FTRACE = 0xD503201F, 0x97F83FFF  # bl from 0xffff800008200004 to 0xffff800008010000


def states(items: list[str], slots: int = 4, extra: str = "", steps: str = "[isb]") -> dict:
    text = ("fpatch: 1\nsymbols: {out: 0x2000}\nhelpers: {h: {address: 0x3000}}\n"
            f"sites:\n  f:\n    base: 0x1000\n    slots: {slots}\n    states:\n      A:\n"
            + "".join(f"        - {i}\n" for i in items) + extra + f"steps: {steps}\n")
    spec = parse_text(text, "v.yaml")
    st = spec.site("f").states[0]
    return {"words": list(st.words), "labels": list(st.labels), "spec": spec}


def test_defaults() -> None:
    spec = parse_text(BASE, "dir/my-spec.yaml")
    assert (spec.idc, spec.dic, spec.line_size) == (False, False, 64)
    assert (spec.preemptible, spec.nmi, spec.cmodx_linux) == (True, True, False)
    assert spec.observers == ("thread", "nmi")
    assert spec.max_insns == 2 * 2 + 4
    assert spec.timeout is None
    site = spec.site("func")
    assert (site.entry, site.initial, site.valid, site.live) == (0, "OFF", ("OFF", "ON"),
                                                                 DEFAULT_LIVE)
    h = spec.helpers[0]
    assert (h.returns_to, h.inputs) == ("x30", ("x9", "x30", "sp"))
    assert parse_text(edit("name: t\n", ""), "dir/my-spec.yaml").name == "my-spec"
    no_nmi = parse_text(edit("expect: safe", "env: {nmi: false}\nexpect: safe"))
    assert no_nmi.observers == ("thread",)


def test_helper_defaults() -> None:
    spec = parse_text(edit("    inputs: [x9, x30, sp]\n    restores: {x30: x9}\n"
                           "    clobbers: [x9]\n", ""))
    h = spec.helpers[0]
    assert (h.inputs, h.returns_to, h.restores, h.clobbers) == (("x30", "sp"), "x30", (), ())


def test_register_aliases_in_helpers() -> None:
    spec = parse_text(edit("inputs: [x9, x30, sp]", "inputs: [X9, LR, fp, SP]"))
    assert spec.helpers[0].inputs == ("x9", "x30", "x29", "sp")


def test_on_off_yes_as_names() -> None:
    spec = parse_text(edit("      ON:", "      yes:").replace("as: ON", "as: yes"))
    assert [s.name for s in spec.site("func").states] == ["OFF", "yes"]


def test_hex_word_forms() -> None:
    r = states(["d503201f", "0xD503201F", ".inst 0xd503201f", "14000002"])
    assert r["words"] == [NOP, NOP, NOP, 0x14000002]


def test_targets() -> None:
    r = states(["b .+16", "b . - 4", "bl h", "b out+8"])
    assert r["words"] == [0x14000004, 0x17FFFFFF, 0x94000000 | (0x3000 - 0x1008) >> 2,
                          0x14000000 | (0x2008 - 0x100C) >> 2]


def test_absolute_target_and_hash_form() -> None:
    r = states(["b 0x1008", '"b #0x1008"', "nop // a comment", '"add x0, x0, #1"'])
    assert r["words"][:2] == [0x14000002, 0x14000001]
    assert r["words"][2] == NOP
    assert r["words"][3] == states(["add x0, x0, 1", "nop", "nop", "nop"])["words"][0]


def test_local_labels() -> None:
    r = states(["1: nop", "b 1b", "b 2f", "2: b 1b"])
    assert r["labels"] == ["1", "", "", "2"]
    assert r["words"] == [NOP, 0x17FFFFFF, 0x14000002 - 1, 0x17FFFFFD]


def test_local_label_backward_includes_own_slot() -> None:
    assert states(["1: b 1b", "nop", "nop", "nop"])["words"][0] == 0x14000000


def test_named_labels_and_entry_and_write_slots() -> None:
    r = states(["top: nop", "b top", "cbz x0, end", "end: ret"],
               extra="    entry: end\n", steps="[{write: {slots: [top, 1], value: 0}}]")
    assert r["words"][1] == 0x17FFFFFF
    spec = r["spec"]
    assert spec.site("f").entry == 3
    assert spec.steps[0].addr == 0x1000 and spec.steps[0].data == bytes(8)


def test_write_forms() -> None:
    text = edit("    slots: 2\n", "    slots: 2\n    data: {ops: {offset: -8}}\n")
    text = edit("  - write: {slot: 1, as: ON}\n",
                "  - write: {as: ON}\n"
                "  - write: {slots: [0, 1], value: 0x94000000d503201f, width: 8}\n"
                "  - write: {slot: 1, as: ON, width: 1, order: descending}\n"
                "  - write: {data: ops, value: 0x1122, width: 8}\n"
                "  - write: {slot: 1, insn: bl ftrace_caller}\n", text)
    spec = parse_text(text)
    w_all, w_val, w_bytes, w_data, w_insn = spec.steps[:5]
    base = 0xFFFF800008200000
    assert (w_all.addr, len(w_all.data), w_all.width) == (base, 8, 4)
    assert w_val.data == (0x94000000D503201F).to_bytes(8, "little") and w_val.width == 8
    assert (w_bytes.width, w_bytes.descending) == (1, True)
    assert (w_data.addr, w_data.data) == (base - 8, (0x1122).to_bytes(8, "little"))
    # Regression: helpers and symbols were unknown in `insn`.
    assert w_insn.data == BL_FTRACE.to_bytes(4, "little")


def test_bare_steps_and_targets() -> None:
    text = edit("  - write: {slot: 1, as: ON}\n",
                "  - dsb\n  - dsb: sy\n  - isb:\n  - ic_iallu\n  - ipi_sync\n  - wait_tasks\n"
                "  - dc_cvau: func\n  - ic_ivau: {slot: 1}\n  - dc_cvau: {}\n"
                "  - stop_machine: [isb, {dsb: ish}]\n")
    steps = parse_text(text).steps
    assert [type(s) for s in steps[:10]] == [Dsb, Dsb, Isb, CacheOp, IpiSync, WaitTasks,
                                             CacheOp, CacheOp, CacheOp, StopMachine]
    assert (steps[0].option, steps[1].option) == ("ish", "sy")
    base = 0xFFFF800008200000
    assert steps[6].addrs == (base, base + 4) == steps[8].addrs
    assert steps[7].addrs == (base + 4,)


def test_helper_address_may_name_a_symbol() -> None:
    from fpatch.spec import parse_text

    spec = parse_text("""
fpatch: 1
symbols: {ftrace_caller_sym: 0xffff800008010000}
helpers:
  ftrace_caller: {address: ftrace_caller_sym}
sites:
  f:
    base: 0xffff800008200000
    slots: 1
    states:
      A: [nop]
      B: [bl ftrace_caller]
steps:
  - write: {slot: 0, as: B}
""")
    assert spec.helpers[0].address == 0xFFFF800008010000
    assert spec.sites[0].state("B").words[0] != spec.sites[0].state("A").words[0]
