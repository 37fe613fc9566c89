"""parse_text's diagnostics: one per problem, at the exact line and column, saying
what was expected; every independent problem of a spec reported at once."""

from __future__ import annotations

import pytest

from fpatch.errors import SpecError
from fpatch.spec.parse import parse_file, parse_text

from .helpers import BASE, edit, only, problems, where


def test_base_is_valid() -> None:
    spec = parse_text(BASE, "t.yaml")
    assert spec.name == "t"
    assert [s.name for s in spec.site("func").states] == ["OFF", "ON"]


# ------------------------------------------------------------------ YAML layer


def test_empty_file() -> None:
    assert only("") == (1, 1, "spec is empty; expected a mapping")
    assert only("# just a comment\n") == (1, 1, "spec is empty; expected a mapping")


def test_not_yaml_unclosed_flow() -> None:
    line, col, msg = only("fpatch: 1\nsites: [1, 2\nsteps: []\n")
    assert (line, col) == (3, 6)
    assert msg.startswith("not valid YAML:") and "expected ',' or ']'" in msg


def test_not_yaml_mapping_in_scalar() -> None:
    assert only("name: a: b\n") == (1, 8, "not valid YAML: mapping values are not allowed here")


def test_not_yaml_tab_indent() -> None:
    line, col, msg = only("steps:\n\t- isb\n")
    assert (line, col) == (2, 1) and "'\\t'" in msg


def test_top_level_not_a_mapping() -> None:
    assert only("- isb\n") == (1, 1, "spec: expected a mapping, got a list")
    assert only("hello\n") == (1, 1, "spec: expected a mapping, got str 'hello'")


def test_duplicate_key() -> None:
    text = edit("name: t\n", "name: a\nname: b\n")
    assert only(text) == (3, 1, "duplicate key 'name' (first at line 2, column 1)")


def test_duplicate_nested_key() -> None:
    text = edit("    slots: 2\n", "    slots: 2\n    slots: 3\n")
    line, col = where(text, "slots: 3")
    assert only(text) == (line, col, "duplicate key 'slots' (first at line 12, column 5)")


def test_yaml_alias_is_reported_where_used() -> None:
    text = edit("        - nop\n", "        - &n nop\n")
    text = edit("      ON:\n        - mov x9, x30\n", "      ON:\n        - *n\n", text)
    line, col = where(text, "*n")
    assert only(text) == (line, col, "YAML aliases (*name) are not supported in specs")


def test_yaml_alias_of_mapping() -> None:
    text = edit("  ftrace_caller:\n", "  ftrace_caller: &h\n")
    text = edit("expect: safe\n", "x: *h\nexpect: safe\n", text)
    found = problems(text)
    assert (*where(text, "*h"), "YAML aliases (*name) are not supported in specs") in found
    assert any("unknown key 'x'" in m for _, _, m in found)


def test_yaml_merge_key() -> None:
    text = "a: &a {b: 1}\nc:\n  <<: *a\n"
    found = problems(text)
    assert (3, 3, "unsupported YAML tag tag:yaml.org,2002:merge") in found
    assert (3, 7, "YAML aliases (*name) are not supported in specs") in found


def test_python_tag_on_collection() -> None:
    text = edit("expect: safe", 'expect: !!python/object/apply:os.system ["true"]')
    found = problems(text)
    line, col = where(text, "!!python")
    assert (line, col, "unsupported YAML tag tag:yaml.org,2002:python/object/apply:os.system") \
        in found


def test_binary_tag_on_scalar() -> None:
    text = edit("name: t", "name: !!binary aGk=")
    assert only(text) == (2, 7, "unsupported YAML tag tag:yaml.org,2002:binary")


def test_nul_and_size_limits() -> None:
    assert only(BASE + "\x00") == (1, 1, "spec contains a NUL character")
    from fpatch.spec.yamlnode import MAX_SPEC_BYTES

    assert only("a: " + "x" * MAX_SPEC_BYTES) == (1, 1, f"spec is larger than {MAX_SPEC_BYTES} bytes")


def test_parse_file_invalid_utf8(tmp_path) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "bad.yaml"
    p.write_bytes(b"fpatch: 1\nname: \xff\xfe\n")
    with pytest.raises(SpecError) as info:
        parse_file(p)
    [d] = info.value.diagnostics
    assert (d.loc.file, d.loc.line, d.loc.col, d.message) == (str(p), 2, 1,
                                                              "spec is not valid UTF-8")


def test_parse_file_missing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SpecError) as info:
        parse_file(tmp_path / "nope.yaml")
    [d] = info.value.diagnostics
    assert (d.loc.line, d.loc.col) == (1, 1) and d.message.startswith("cannot read spec:")


# ------------------------------------------------------------------- top level


def test_unknown_top_level_key() -> None:
    line, col, msg = only(BASE + "frobnicate: 1\n")
    assert (line, col) == (24, 1)
    assert msg.startswith("spec: unknown key 'frobnicate' (expected one of fpatch, name,")


def test_missing_required_keys() -> None:
    assert problems("fpatch: 1\n") == [
        (1, 1, "spec: missing required key 'sites'"),
        (1, 1, "spec: missing required key 'steps'"),
    ]


def test_unsupported_version() -> None:
    assert only(edit("fpatch: 1", "fpatch: 2")) == (
        1, 9, "fpatch: format version 2 is not supported (expected 1)")


def test_wrong_types() -> None:
    text = edit("fpatch: 1\n", "fpatch: 1\nenv: {preemptible: 1, nmi: maybe}\ncache: {line: 63}\n")
    text = edit("    slots: 2", "    slots: two", text)
    assert problems(text) == [
        (2, 20, "env.preemptible: expected true or false, got int '1'"),
        (2, 28, "env.nmi: expected true or false, got str 'maybe'"),
        (3, 15, "cache.line: 63 is not a power of two"),
        (*where(text, "two"), "sites.func.slots: expected an integer, got str 'two'"),
    ]


def test_wrong_container_types() -> None:
    text = edit("expect: safe\n", "expect: safe\ncache: [idc]\nobservers: thread\n")
    assert problems(text) == [
        (24, 8, "cache: expected a mapping, got a list"),
        (25, 12, "observers: expected a list, got str 'thread'"),
    ]


def test_float_timeout() -> None:
    text = edit("expect: safe", "timeout: 1.5\nexpect: safe")
    assert only(text) == (23, 10, "timeout (seconds): expected an integer, got float '1.5'")


def test_choice_values() -> None:
    text = edit("expect: safe", "expect: maybe\nobservers: [thread, cpu]\narch: x86")
    text = edit("fpatch: 1\n", "fpatch: 1\nenv: {cmodx: arm}\n", text)
    assert problems(text) == [
        (2, 14, "env.cmodx: expected one of manual, linux; got 'arm'"),
        (24, 9, "expect: expected one of safe, unsafe; got 'maybe'"),
        (25, 21, "observers: expected one of thread, nmi; got 'cpu'"),
        (26, 7, "arch: expected one of aarch64; got 'x86'"),
    ]


def test_nmi_observer_without_nmi() -> None:
    text = edit("expect: safe", "env: {nmi: false}\nobservers: [nmi]\nexpect: safe")
    assert only(text) == (24, 12, "observers: 'nmi' is listed but env.nmi is false")


# -------------------------------------------------------------------- helpers


def test_bad_register_in_helper() -> None:
    text = edit("inputs: [x9, x30, sp]", "inputs: [x9, x31, sp]")
    assert only(text) == (6, 18, "helpers.ftrace_caller.inputs: 'x31' is not a register "
                                 "(expected x0-x30, sp, lr, fp)")


def test_helper_restores_bad_register() -> None:
    text = edit("restores: {x30: x9}", "restores: {x30: x99}")
    assert only(text) == (7, 21, "helpers.ftrace_caller.restores.x30: 'x99' is not a register "
                                 "(expected x0-x30, sp, lr, fp)")


def test_helper_restored_and_clobbered() -> None:
    text = edit("clobbers: [x9]", "clobbers: [x9, x30]")
    assert only(text) == (7, 5, "helpers.ftrace_caller: 'x30' is both restored and clobbered")


def test_helper_also_a_symbol() -> None:
    text = edit("fpatch: 1\n", "fpatch: 1\nsymbols: {ftrace_caller: 0x1000}\n")
    assert only(text) == (5, 3, "helper 'ftrace_caller' is also declared under symbols")


# ---------------------------------------------------------------------- sites


def test_unknown_mnemonic() -> None:
    text = edit("        - nop\n", "        - nopp\n")
    line, col, msg = only(text)
    assert (line, col) == (16, 11)
    assert msg.startswith("sites.func.states.OFF: unknown or unsupported mnemonic 'nopp' "
                          "(expected one of: add, adr,")


def test_bad_register_in_instruction() -> None:
    text = edit("OFF:\n        - mov x9, x30", "OFF:\n        - mov x9, x31")
    assert only(text) == (*where(text, "x31"),
                          "sites.func.states.OFF: invalid register 'x31': expected a source "
                          "register (x0-x30, w0-w30, sp, wsp, xzr, wzr)")


def test_branch_to_undefined_local_label() -> None:
    text = edit("        - nop\n", "        - b 1f\n")
    assert only(text) == (*where(text, "1f"), "sites.func.states.OFF: unknown symbol '1f'")


def test_local_label_only_behind() -> None:
    text = edit("        - mov x9, x30\n        - nop\n",
                "        - 1: mov x9, x30\n        - b 1f\n")
    assert only(text) == (*where(text, "b 1f"),
                          "sites.func.states.OFF: label 1f has no definition after slot 1")


def test_branch_to_undefined_named_label() -> None:
    text = edit("        - nop\n", "        - b out\n")
    assert only(text) == (*where(text, "out"), "sites.func.states.OFF: unknown symbol 'out'")


def test_named_label_is_local_to_its_state() -> None:
    text = edit("        - mov x9, x30\n        - nop\n",
                "        - start: mov x9, x30\n        - nop\n")
    text = edit("        - bl ftrace_caller\n", "        - b start\n", text)
    assert only(text) == (*where(text, "start", 1), "sites.func.states.ON: unknown symbol 'start'")


def test_label_errors() -> None:
    text = edit("        - mov x9, x30\n        - nop",
                "        - a: mov x9, x30\n        - a: nop")
    assert only(text) == (*where(text, "nop"), "sites.func.states.OFF: label 'a' is defined twice")
    text = edit("        - nop\n", '        - "a b": nop\n')
    assert only(text) == (16, 11, "sites.func.states.OFF: 'a b' is not a valid label")


def test_comment_gotcha_hint() -> None:
    text = edit("        - nop\n", "        - stp x29, x30, [sp, #-16]!\n")
    line, col, msg = only(text)
    assert (line, col) == (16, 29)  # just past "[sp," where YAML cut the line
    assert msg.startswith("sites.func.states.OFF: expected an offset immediate, got end of line")
    assert "YAML treats ' #' as the start of a comment: quote the instruction" in msg


def test_quoted_instruction_column() -> None:
    # Regression: the column was one short (it counted from the opening quote).
    text = edit("        - nop\n", '        - "stp x29, x30, [sp, #-15]!"  # a comment\n')
    assert only(text) == (*where(text, "#-15"), "sites.func.states.OFF: offset -15 out of range: "
                                                "expected a multiple of 8 in -512..504")


def test_overlong_instruction() -> None:
    # Regression: 5000 digits crashed the assembler's int() (ValueError).
    text = edit("        - nop\n", "        - b " + "1" * 5000 + "\n")
    assert only(text) == (16, 11, "sites.func.states.OFF: instruction text is longer than 256 "
                                  "characters")


def test_wrong_number_of_instructions() -> None:
    text = edit("        - mov x9, x30\n        - bl", "        - bl")
    assert only(text) == (18, 9, "sites.func.states.ON: expected 2 instructions (one per slot), "
                                 "got 1")


def test_instruction_not_a_scalar() -> None:
    text = edit("        - nop\n", "        - [nop]\n")
    assert only(text) == (16, 11, "sites.func.states.OFF: expected an instruction (text, hex word, "
                                  "or 'label: instruction'), got a list")


def test_site_fields() -> None:
    text = edit("0xffff800008200000", "0xffff800008200002")
    assert only(text) == (11, 5, "sites.func.base: 0xffff800008200002 is not 4-byte aligned")
    text = edit("    slots: 2", "    slots: 0")
    assert only(text) == (12, 12, "sites.func.slots: 0 is out of range 1..256")
    text = edit("steps:", "    entry: 2\nsteps:")
    assert only(text) == (20, 12, "sites.func.entry: 2 is out of range 0..1")
    text = edit("steps:", "    entry: start\nsteps:")
    assert only(text) == (20, 12, "sites.func.entry: no slot is labelled 'start'")
    text = edit("steps:", "    frob: 1\nsteps:")
    line, col, msg = only(text)
    assert (line, col) == (20, 5) and msg.startswith("sites.func: unknown key 'frob'")


def test_unknown_initial_and_valid_state() -> None:
    text = edit("steps:", "    initial: OF\n    valid: [ON, OF]\nsteps:")
    assert problems(text) == [
        (20, 14, "sites.func.initial: unknown state 'OF' (states: OFF, ON)"),
        (21, 17, "sites.func.valid: unknown state 'OF' (states: OFF, ON)"),
    ]


def test_empty_valid_list() -> None:
    # Regression: `valid: []` was accepted (no valid state at all).
    text = edit("steps:", "    valid: []\nsteps:")
    assert only(text) == (20, 12, "sites.func.valid: expected at least one valid state")


def test_empty_sites_and_states() -> None:
    text = edit(BASE[BASE.index("sites:"): BASE.index("steps:")], "sites: {}\n")
    assert only(text) == (9, 8, "sites: expected at least one site")


def test_site_overlap() -> None:
    text = edit("steps:", "  g:\n    base: 0xffff800008200004\n    slots: 1\n"
                          "    states: {A: [nop]}\nsteps:")
    text = text.replace("{slot", "{site: func, slot")
    assert only(text) == (*where(text, "g:"), "sites: site 'g' overlaps site 'func'")


def test_data_word_overlapping_slots() -> None:
    text = edit("    slots: 2\n", "    slots: 2\n    data: {ops: {offset: 4, size: 4}}\n")
    assert only(text) == (*where(text, "offset"),
                          "sites.func.data.ops: data word overlaps the instruction slots")


def test_data_word_problems() -> None:
    text = edit("    slots: 2\n", "    slots: 2\n    data:\n      a: {offset: -12}\n"
                                  "      b: {offset: -8, size: 0}\n"
                                  "      c: {offset: -8}\n      d: {offset: -4, size: 4}\n"
                                  "      e: {offset: -8, size: 4}\n")
    assert problems(text) == [
        (14, 11, "sites.func.data.a: address 0xffff8000081ffff4 is not 8-byte aligned"),
        # Regression: `size: 0` was silently read as 8.
        (15, 23, "sites.func.data.b.size: expected 4 or 8, got 0"),
        (17, 7, "sites.func.data: 'd' overlaps 'c'"),
        (18, 7, "sites.func.data: 'e' overlaps 'c'"),
    ]


# ---------------------------------------------------------------------- steps


def test_write_to_missing_slot() -> None:
    text = edit("{slot: 1, as: ON}", "{slot: 2, as: ON}")
    assert only(text) == (21, 19, "write: slot 2 does not exist in site 'func' (slots 0..1)")


def test_write_unknown_state() -> None:
    text = edit("{slot: 1, as: ON}", "{slot: 1, as: ONN}")
    assert only(text) == (21, 26, "write.as: unknown state 'ONN' of site 'func' (states: OFF, ON)")


def test_write_unknown_site() -> None:
    text = edit("{slot: 1, as: ON}", "{site: fn, slot: 1, as: ON}")
    assert only(text) == (21, 19, "write.site: unknown site 'fn' (sites: func)")


def test_misaligned_8_byte_write() -> None:
    text = edit("0xffff800008200000", "0xffff800008200004")
    text = edit("{slot: 1, as: ON}", "{slots: [0, 1], as: ON, width: 8}", text)
    assert only(text) == (*where(text, "width"),
                          "write: a 8-byte store at 0xffff800008200004 is misaligned (single-copy "
                          "atomic stores must be aligned); use width 4 or split the write")


def test_width_not_dividing() -> None:
    text = edit("{slot: 1, as: ON}", "{slot: 1, as: ON, width: 8}")
    assert only(text) == (*where(text, "width"),
                          "write: 4 bytes cannot be written in 8-byte stores")


def test_width_not_allowed() -> None:
    text = edit("{slot: 1, as: ON}", "{slot: 1, as: ON, width: 3}")
    assert only(text) == (21, 30, "write.width: expected 1, 2, 4 or 8, got 3")


def test_write_shapes() -> None:
    cases = {
        "{slot: 1, as: ON, insn: nop}":
            (21, 12, "write: give exactly one of 'as: STATE', 'insn: TEXT' or 'value: WORD'"),
        "{slot: 1}":
            (21, 12, "write: give exactly one of 'as: STATE', 'insn: TEXT' or 'value: WORD'"),
        "{slot: 1, slots: [1], as: ON}": (21, 22, "write: give 'slot' or 'slots', not both"),
        "{slots: [1, 0], as: ON}":
            (21, 12, "write: slots of one write must be consecutive and ascending"),
        "{slots: [0, 1], insn: nop}": (21, 12, "write: 'insn' writes exactly one slot"),
        "{slot: 1, value: 0x100000000}":
            (21, 29, "write.value: 4294967296 is out of range 0..4294967295"),
        "{slot: 1, as: ON, order: up}":
            (21, 37, "write.order: expected one of ascending, descending; got 'up'"),
        "{slot: 1, as: ON, flip: 1}": (21, 30, "write: unknown key 'flip' (expected one of site, "
                                               "slot, slots, as, insn, data, value, width, order)"),
        "{slot: nolabel, as: ON}": (21, 19, "write.slot: expected an integer, got str 'nolabel'"),
        "{data: ops, value: 1}": (21, 13, "write.data: site 'func' has no data word 'ops'"),
    }
    for new, expected in cases.items():
        assert only(edit("{slot: 1, as: ON}", new)) == expected, new


def test_write_insn_error_column() -> None:
    text = edit("{slot: 1, as: ON}", '{slot: 1, insn: "ldp x29, x30, [sp], #17"}')
    assert only(text) == (*where(text, "#17"), "write.insn: offset 17 out of range: expected a "
                                               "multiple of 8 in -512..504")


def test_data_write_with_slot_source() -> None:
    # Regression: 'as' next to 'data' was silently ignored.
    text = edit("    slots: 2\n", "    slots: 2\n    data: {ops: {offset: -8}}\n")
    text = edit("{slot: 1, as: ON}", "{data: ops, value: 1, as: ON}", text)
    assert only(text) == (*where(text, "as: ON}"),
                          "write: a data write takes 'data' and 'value', not 'as'")


def test_write_over_several_lines_indented_wrong() -> None:
    text = edit("  - write: {slot: 1, as: ON}\n", "  - write:\n    slot: 1\n    as: ON\n")
    assert only(text) == (21, 5, "step: expected a step name or a mapping with exactly one "
                                 "step name")


def test_unknown_step() -> None:
    text = edit("  - sync_icache:", "  - sync_cache:")
    assert only(text) == (22, 5, "unknown step 'sync_cache' (expected one of write, dc_cvau, dsb, "
                                 "dmb, ic_ivau, ic_iallu, ic_ialluis, isb, sync_icache, "
                                 "stop_machine, ipi_sync, wait_tasks, mark)")
    text = edit("  - sync_icache: {slots: [1]}", "  - flush")
    line, col, msg = only(text)
    assert (line, col) == (22, 5) and msg.startswith("unknown step 'flush'")


def test_step_argument_problems() -> None:
    step = "  - sync_icache: {slots: [1]}\n"
    cases = {
        "  - dc_cvau\n": (22, 5, "step 'dc_cvau' needs arguments"),
        "  - dc_cvau: fn\n": (22, 14, "dc_cvau: unknown site 'fn'"),
        "  - ic_ivau: {slot: 9}\n": (22, 21, "ic_ivau: slot 9 does not exist in site 'func' "
                                              "(slots 0..1)"),
        "  - dsb: oshs\n": (22, 10, "dsb: expected one of ish, sy, ishst, st, ishld, ld, osh, "
                                  "oshst, oshld, nsh, nshst, nshld; got 'oshs'"),
        # Regression: arguments of argument-less steps were silently ignored.
        "  - isb: sy\n": (22, 10, "step 'isb' takes no arguments"),
        "  - ipi_sync: {cpus: 2}\n": (22, 15, "step 'ipi_sync' takes no arguments"),
        "  - stop_machine: []\n": (22, 19, "stop_machine: expected at least one step"),
        "  - [isb]\n": (22, 5, "step: expected a step name or a mapping with exactly one "
                               "step name"),
    }
    for new, expected in cases.items():
        assert only(edit(step, new)) == expected, new


def test_ipi_sync_and_wait_tasks_inside_stop_machine() -> None:
    text = edit("  - write: {slot: 1, as: ON}\n",
                "  - stop_machine:\n      - write: {slot: 1, as: ON}\n      - ipi_sync\n"
                "      - wait_tasks\n")
    assert problems(text) == [
        (23, 9, "ipi_sync inside stop_machine would deadlock (other CPUs spin with interrupts "
                "masked)"),
        (24, 9, "wait_tasks inside stop_machine would deadlock"),
    ]


def test_nested_stop_machine() -> None:
    text = edit("  - write: {slot: 1, as: ON}\n",
                "  - stop_machine:\n      - stop_machine: [isb]\n")
    assert only(text) == (22, 9, "stop_machine blocks cannot be nested")


# -------------------------------------------------------------- all at once


def test_three_independent_errors_give_three_diagnostics() -> None:
    text = BASE + "frobnicate: 1\n"
    text = edit("        - nop\n", "        - nopp\n", text)
    text = edit("  - sync_icache:", "  - sync_cache:", text)
    found = problems(text)
    assert [(line, col) for line, col, _ in found] == [(16, 11), (22, 5), (24, 1)]
    assert "unknown or unsupported mnemonic 'nopp'" in found[0][2]
    assert found[1][2].startswith("unknown step 'sync_cache'")
    assert found[2][2].startswith("spec: unknown key 'frobnicate'")


def test_many_errors_across_sections() -> None:
    text = edit("inputs: [x9, x30, sp]", "inputs: [x9, x31, sp]")
    text = edit("    slots: 2\n", "    slots: 2\n    data: {ops: {offset: 4, size: 4}}\n", text)
    text = edit("{slot: 1, as: ON}", "{slot: 1, as: ONN}", text)
    text = edit("expect: safe", "expect: maybe", text)
    text = edit("  - sync_icache: {slots: [1]}\n", "  - isb: sy\n  - frob\n", text)
    found = problems(text)
    assert len(found) == 6, found


def test_errors_in_a_state_do_not_hide_step_errors() -> None:
    text = edit("        - nop\n", "        - nopp\n")
    text = edit("{slot: 1, as: ON}", "{slot: 5, as: ON}", text)
    text = edit("  - sync_icache:", "  - sync_cache:", text)
    assert [(line, col) for line, col, _ in problems(text)] == [(16, 11), (21, 19), (22, 5)]


def test_diagnostics_are_sorted_and_unique() -> None:
    text = edit("{slot: 1, as: ON}", "{slot: 1, as: ON, width: 3}")
    text = edit("  - sync_icache: {slots: [1]}\n",
                "  - write: {slot: 1, as: ON, width: 3}\n", text)
    with pytest.raises(SpecError) as info:
        parse_text(text, "t.yaml")
    diags = info.value.diagnostics
    assert diags == sorted(set(diags))
    assert str(info.value).splitlines() == [str(d) for d in diags]
    assert all(str(d).startswith("t.yaml:") and ": error: " in str(d) for d in diags)


def test_barrier_options_and_invalidate_all_steps() -> None:
    """Every DSB/DMB option of the architecture; ic_ialluis is bare; a bad option is located."""
    for opt in ("sy", "ish", "osh", "nsh", "st", "ishst", "oshst", "nshst", "ld", "ishld",
                "oshld", "nshld"):
        for kind in ("dsb", "dmb"):
            spec = parse_text(edit("  - sync_icache: {slots: [1]}", f"  - {kind}: {opt}"))
            assert spec.steps[-1].option == opt  # type: ignore[union-attr]
    spec = parse_text(edit("  - sync_icache: {slots: [1]}", "  - ic_ialluis\n  - dmb"))
    assert [type(s).__name__ for s in spec.steps[-2:]] == ["CacheOp", "Dmb"]
    line, col, msg = only(edit("  - sync_icache: {slots: [1]}", "  - dmb: full"))
    assert (line, col) == (22, 10) and msg.startswith("dmb: expected one of ish, sy")
    line, col, msg = only(edit("  - sync_icache: {slots: [1]}", "  - ic_ialluis: 1"))
    assert msg == "step 'ic_ialluis' takes no arguments"
