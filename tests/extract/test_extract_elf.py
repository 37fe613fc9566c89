"""fpatch extract on objects the cross compiler builds: sites, words, addresses, verdicts.

The oracles are GNU objdump (the words and addresses) and the bundled hand-written
specs (the verdict of the same mechanism must be the same).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from fpatch.cli import main
from fpatch.extract.elf import DEFAULT_REL_BASE
from fpatch.isa import assemble
from fpatch.spec import Spec, parse_file
from tests.extract.conftest import Cross, Dump

ROOT = Path(__file__).parents[2]
NOP, BTI_C, MOV_X9_X30 = 0xD503201F, 0xD503245F, 0xAA1E03E9


def extract(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, ["extract", *args])
    assert "Traceback" not in r.output + r.stderr
    return r.exit_code, r.stdout, r.stderr


def specs_in(folder: Path) -> dict[str, Spec]:
    return {p.name: parse_file(p) for p in sorted(folder.glob("*.yaml"))}


def verdicts(*paths: Path) -> dict[str, str]:
    r = CliRunner().invoke(main, ["check", "--json", *map(str, paths)])
    doc = json.loads(r.stdout)
    return {Path(d["spec"]).name: d["verdict"] for d in doc["results"]}


def hand_verdict(name: str) -> str:
    (v,) = verdicts(ROOT / "specs" / name).values()
    return v


def word_at(dump: Dump, address: int, relocatable: bool) -> int:
    """objdump's word at an extracted address (a .o's .text is placed at the base)."""
    return dump.words[address - DEFAULT_REL_BASE if relocatable else address]


def sym(dump: Dump, name: str, relocatable: bool) -> int:
    return dump.symbols[name] + (DEFAULT_REL_BASE if relocatable else 0)


def state(spec: Spec, name: str) -> tuple[int, ...]:
    (site,) = spec.sites
    return next(s for s in site.states if s.name == name).words


# -- ftrace -------------------------------------------------------------------------

@pytest.mark.parametrize("flags,bti", [
    (("-fpatchable-function-entry=2",), False),
    (("-fpatchable-function-entry=2", "-mbranch-protection=standard"), True),
])
def test_ftrace_sites_of_an_object_are_its_functions_with_objdump_words(
        cross: Cross, tmp_path: Path, flags: tuple[str, ...], bti: bool) -> None:
    obj = cross.compile("funcs.c", f"funcs{len(flags)}.o", *flags)
    dump = cross.objdump(obj)
    code, out, err = extract(str(obj), "-o", str(tmp_path / "out"))
    assert code == 0, err
    specs = specs_in(tmp_path / "out")
    by_function = {spec.sites[0].name: spec for spec in specs.values()}
    # one site per function objdump shows (every function got the patchable entry)
    assert set(by_function) == set(dump.symbols) >= {"leaf", "nonleaf", "uses_helper"}
    assert f"{len(specs)} spec(s) written" in out
    for fn, spec in by_function.items():
        (site,) = spec.sites
        entry = sym(dump, fn, True)
        assert site.base + 4 * site.entry == entry
        assert site.nslots == (3 if bti else 2)
        off = state(spec, "OFF")
        on = state(spec, "ON")
        for i in range(site.nslots):
            compiled = word_at(dump, site.base + 4 * i, True)
            if bti and i == 0:
                assert compiled == BTI_C and off[i] == on[i] == BTI_C
            else:
                assert compiled == NOP
        init = site.nslots - 2
        assert off[init] == on[init] == MOV_X9_X30       # ftrace_init_nop
        assert off[init + 1] == NOP                       # ftrace_make_nop
        helper = {h.name: h for h in spec.helpers}["ftrace_caller"]
        assert on[init + 1] == assemble(f"bl {helper.address:#x}", site.base + 4 * (init + 1))
        assert spec.expect == "safe"
    got = verdicts(*(tmp_path / "out" / n for n in specs))
    assert set(got.values()) == {hand_verdict("ftrace-mov-x9-nop-bl.yaml")} == {"safe"}


def test_ftrace_call_ops_layout_has_the_literal_as_a_data_word(cross: Cross, tmp_path: Path) -> None:
    obj = cross.compile("funcs.c", "ops.o", "-fpatchable-function-entry=4,2",
                        "-mbranch-protection=standard", "-falign-functions=8")
    dump = cross.objdump(obj)
    code, _, err = extract(str(obj), "-o", str(tmp_path / "out"), "--function", "nonleaf")
    assert code == 0, err
    (spec,) = specs_in(tmp_path / "out").values()
    (site,) = spec.sites
    entry = sym(dump, "nonleaf", True)
    assert site.base == entry and site.entry == 0 and site.nslots == 3
    (ops,) = site.data
    assert site.base + ops.offset == entry - 8 and ops.size == 8 and (entry - 8) % 8 == 0
    assert word_at(dump, entry - 8, True) == word_at(dump, entry - 4, True) == NOP
    assert [word_at(dump, entry + 4 * i, True) for i in range(3)] == [BTI_C, NOP, NOP]
    assert state(spec, "OFF") == (BTI_C, MOV_X9_X30, NOP)
    text = (tmp_path / "out" / f"{spec.name}.yaml").read_text()
    assert "CALL_OPS" in text and "unknown" in text   # the note about data words
    # ftrace_make_call writes the ops before the bl, ftrace_make_nop the nop ops first
    kinds = [type(s).__name__ for s in spec.steps]
    assert kinds == ["Write", "Write", "SyncIcache", "Write", "Write", "SyncIcache"]
    steps = spec.steps
    assert [steps[i].addr for i in (0, 1, 3, 4)] == [entry - 8, entry + 8, entry - 8, entry + 8]
    assert verdicts(tmp_path / "out") == {f"{spec.name}.yaml": "safe"}


def test_ftrace_misaligned_pre_function_nops_stay_instructions(cross: Cross, tmp_path: Path) -> None:
    # without -falign-functions=8 some pre-function NOP pairs are not 8-byte aligned: the
    # kernel would warn (ftrace_call_adjust) and so fpatch keeps them as plain slots
    obj = cross.compile("unaligned.c", "ops-unaligned.o", "-fpatchable-function-entry=4,2",
                        "-falign-functions=4")
    dump = cross.objdump(obj)
    code, _, err = extract(str(obj), "-o", str(tmp_path / "out"))
    assert code == 0, err
    specs = specs_in(tmp_path / "out")
    shapes = set()
    for spec in specs.values():
        (site,) = spec.sites
        entry = sym(dump, site.name, True)
        assert site.base + 4 * site.entry == entry
        if (entry - 8) % 8:
            assert not site.data and site.entry == 2 and site.nslots == 4
            text = (tmp_path / "out" / f"{spec.name}.yaml").read_text()
            assert "not 8-byte aligned" in text
        else:
            assert len(site.data) == 1 and site.entry == 0 and site.nslots == 2
        shapes.add(bool(site.data))
        assert all(word_at(dump, site.base + 4 * i, True) == NOP for i in range(site.nslots))
    assert shapes == {True, False}, "the test needs both alignments"
    assert set(verdicts(tmp_path / "out").values()) == {"safe"}


def test_function_filter_and_patterns(cross: Cross, tmp_path: Path) -> None:
    obj = cross.compile("funcs.c", "filter.o", "-fpatchable-function-entry=2")
    code, _, err = extract(str(obj), "-o", str(tmp_path / "a"), "--function", "leaf")
    assert code == 0, err
    assert [s.sites[0].name for s in specs_in(tmp_path / "a").values()] == ["leaf"]
    code, _, _ = extract(str(obj), "-o", str(tmp_path / "b"), "--function", "*leaf")
    assert sorted(s.sites[0].name for s in specs_in(tmp_path / "b").values()) == ["leaf", "nonleaf"]
    code, _, err = extract(str(obj), "-o", str(tmp_path / "c"), "--function", "nosuch")
    assert code == 2 and "no ftrace site in a function matching 'nosuch'" in err


def test_set_overrides_a_template_variable(cross: Cross, tmp_path: Path) -> None:
    obj = cross.compile("funcs.c", "set.o", "-fpatchable-function-entry=2")
    code, _, err = extract(str(obj), "-o", str(tmp_path), "--function", "leaf",
                           "--set", "ftrace_caller=0xffff800008100000")
    assert code == 0, err
    (spec,) = specs_in(tmp_path).values()
    assert {h.name: h.address for h in spec.helpers} == {"ftrace_caller": 0xFFFF800008100000}
    code, _, err = extract(str(obj), "-o", str(tmp_path), "--set", "ftrace_caller")
    assert code == 2 and "NAME=ADDRESS" in err


# -- jump labels --------------------------------------------------------------------

def test_jump_labels_of_an_object(cross: Cross, tmp_path: Path) -> None:
    obj = cross.compile("static_keys.c", "keys.o")
    dump = cross.objdump(obj)
    code, _, err = extract("--mechanism", "jump-label", str(obj), "-o", str(tmp_path / "out"))
    assert code == 0, err
    specs = {s.sites[0].name: s for s in specs_in(tmp_path / "out").values()}
    assert set(specs) == {"unlikely_user", "likely_user"}
    for fn, compiled_state, key in (("unlikely_user", "FALSE", "key_false"),
                                    ("likely_user", "TRUE", "key_true")):
        spec = specs[fn]
        (site,) = spec.sites
        assert site.nslots == 1
        word = word_at(dump, site.base, True)
        target = dict(spec.symbols)["l_yes"]
        assert state(spec, "FALSE") == (NOP,)
        assert state(spec, "TRUE") == (assemble(f"b {target:#x}", site.base),)
        # the compiled word is the initial state: nop for arch_static_branch, b for _jump
        assert site.initial == compiled_state
        assert state(spec, compiled_state) == (word,)
        assert key in spec.description
        # the target is in the function, after the patched slot
        assert sym(dump, fn, True) <= site.base < target
    # likely_user's compiled `b` goes where objdump says
    spec = specs["likely_user"]
    base = spec.sites[0].base
    imm = word_at(dump, base, True) & 0x3FFFFFF
    assert dict(spec.symbols)["l_yes"] == base + 4 * imm
    got = verdicts(tmp_path / "out")
    assert set(got.values()) == {hand_verdict("jump-label-nop-b.yaml")} == {"safe"}


# -- a linked executable: real addresses ---------------------------------------------

def test_linked_executable_has_real_addresses(cross: Cross, tmp_path: Path) -> None:
    exe = cross.compile("main.c", "prog", "-fpatchable-function-entry=2", link=True,
                        extra=("funcs.c", "static_keys.c"))
    dump = cross.objdump(exe)
    code, _, err = extract(str(exe), "-o", str(tmp_path / "f"), "--function", "*_user",
                           "--function", "leaf")
    assert code == 0, err
    code, _, err = extract("--mechanism", "jump-label", str(exe), "-o", str(tmp_path / "j"))
    assert code == 0, err
    ftrace = {s.sites[0].name: s for s in specs_in(tmp_path / "f").values()}
    jumps = {s.sites[0].name: s for s in specs_in(tmp_path / "j").values()}
    assert set(ftrace) == {"leaf", "unlikely_user", "likely_user"}
    assert set(jumps) == {"unlikely_user", "likely_user"}
    for fn, spec in ftrace.items():
        (site,) = spec.sites
        assert site.base == dump.symbols[fn]      # no relocation base: the linked address
        assert [dump.words[site.base + 4 * i] for i in range(2)] == [NOP, NOP]
    for fn, spec in jumps.items():
        (site,) = spec.sites
        # the jump label follows the two ftrace NOPs of the same function
        assert site.base == dump.symbols[fn] + 8
        assert state(spec, site.initial) == (dump.words[site.base],)
    got = verdicts(tmp_path / "f", tmp_path / "j")
    assert len(got) == 5 and set(got.values()) == {"safe"}


# -- templates as data ---------------------------------------------------------------

def test_a_user_template_changes_the_steps_and_the_verdict(cross: Cross, tmp_path: Path) -> None:
    """The shipped template, with the I-cache maintenance dropped: stale code after the
    sequence, so fpatch answers unsafe; the template is the only thing that changed."""
    obj = cross.compile("funcs.c", "tpl.o", "-fpatchable-function-entry=2")
    src = (ROOT / "fpatch" / "extract" / "templates" / "ftrace.yaml").read_text()
    assert src.count("  - sync_icache: {slots: [call]}\n") == 2
    broken = (src.replace("  - sync_icache: {slots: [call]}\n", "")
              .replace("mechanism: ftrace", "mechanism: ftrace-no-sync")
              .replace("expect: safe", "expect: unsafe"))
    tpl = tmp_path / "no-sync.yaml"
    tpl.write_text(broken)
    code, _, err = extract(str(obj), "-o", str(tmp_path / "out"), "--template", str(tpl),
                           "--function", "leaf")
    assert code == 0, err
    (spec,) = specs_in(tmp_path / "out").values()
    assert [type(s).__name__ for s in spec.steps] == ["Write", "Write"]
    assert set(verdicts(tmp_path / "out").values()) == {"unsafe"}
    code, _, err = extract(str(obj), "-o", str(tmp_path / "ok"), "--function", "leaf")
    assert set(verdicts(tmp_path / "ok").values()) == {"safe"}


def test_builtin_templates_are_package_data() -> None:
    from fpatch.extract.template import builtin, builtin_names

    assert builtin_names() == ["ftrace", "jump-label"]
    assert builtin("ftrace").finder == "patchable-function-entries"
    assert builtin("jump-label").finder == "jump-table"
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"extract/templates/*.yaml"' in pyproject and '"pyelftools' in pyproject


def test_extracted_specs_match_the_editor_schema(cross: Cross, tmp_path: Path) -> None:
    from tests.spec.test_schema import schema_errors

    obj = cross.compile("funcs.c", "schema.o", "-fpatchable-function-entry=4,2",
                        "-mbranch-protection=standard", "-falign-functions=8")
    keys = cross.compile("static_keys.c", "schema-keys.o")
    assert extract(str(obj), "-o", str(tmp_path))[0] == 0
    assert extract("--mechanism", "jump-label", str(keys), "-o", str(tmp_path))[0] == 0
    files = sorted(tmp_path.glob("*.yaml"))
    assert len(files) >= 5
    for f in files:
        assert schema_errors(f.read_text()) == [], f


def test_module_like_relocatable_link_and_shared_object(cross: Cross, tmp_path: Path) -> None:
    """A kernel module is an `ld -r` of several objects (one ET_REL with merged sections
    and relocations); a shared object is position-independent (ET_DYN)."""
    import subprocess

    a = cross.compile("funcs.c", "m-funcs.o", "-fpatchable-function-entry=2")
    b = cross.compile("static_keys.c", "m-keys.o", "-fpatchable-function-entry=2")
    ko = tmp_path / "mod.ko"
    subprocess.run(["aarch64-linux-gnu-ld", "-r", "-o", str(ko), str(a), str(b)], check=True)
    dump = cross.objdump(ko)
    assert extract(str(ko), "-o", str(tmp_path / "f"))[0] == 0
    assert extract("--mechanism", "jump-label", str(ko), "-o", str(tmp_path / "j"))[0] == 0
    ftrace = {s.sites[0].name: s for s in specs_in(tmp_path / "f").values()}
    jumps = {s.sites[0].name: s for s in specs_in(tmp_path / "j").values()}
    assert set(ftrace) == set(dump.symbols)
    assert set(jumps) == {"unlikely_user", "likely_user"}
    for fn, spec in jumps.items():
        site = spec.sites[0]
        assert site.base == sym(dump, fn, True) + 8       # after the two ftrace NOPs
        assert state(spec, site.initial) == (word_at(dump, site.base, True),)
    so = tmp_path / "libf.so"
    p = subprocess.run(["aarch64-linux-gnu-gcc", "-O2", "-fPIC", "-shared",
                        "-fpatchable-function-entry=2", "-o", str(so),
                        str(Path(__file__).parent / "data" / "funcs.c")], capture_output=True,
                       text=True)
    assert p.returncode == 0, p.stderr
    sdump = cross.objdump(so)
    assert extract(str(so), "-o", str(tmp_path / "s"), "--function", "*leaf")[0] == 0
    shared = {s.sites[0].name: s for s in specs_in(tmp_path / "s").values()}
    assert set(shared) == {"leaf", "nonleaf"}
    for fn, spec in shared.items():
        assert spec.sites[0].base == sdump.symbols[fn]
    got = verdicts(tmp_path / "f", tmp_path / "j", tmp_path / "s")
    assert set(got.values()) == {"safe"} and len(got) == len(ftrace) + 2 + 2


@pytest.mark.parametrize("layout", ["2", "3", "5", "3,1", "5,2", "6,3"])
@pytest.mark.parametrize("bti", [False, True])
def test_any_patchable_entry_layout(cross: Cross, tmp_path: Path, layout: str, bti: bool) -> None:
    """-fpatchable-function-entry=N,M: M NOPs before the symbol, N-M after it (after the
    BTI); the site keeps the NOPs before the entry (or, M >= 2 and 8-byte aligned, makes
    the last two of them the CALL_OPS literal) and the first two after it."""
    n, _, m_text = layout.partition(",")
    m = int(m_text or 0)
    flags = [f"-fpatchable-function-entry={layout}"] + (["-mbranch-protection=standard"] if bti
                                                        else [])
    obj = cross.compile("funcs.c", f"l{n}-{m}-{int(bti)}.o", *flags)
    dump = cross.objdump(obj)
    code, _, err = extract(str(obj), "-o", str(tmp_path))
    assert code == 0, err
    specs = {s.sites[0].name: s for s in specs_in(tmp_path).values()}
    assert set(specs) == {f for f in dump.symbols if "-0x" not in f and "+0x" not in f}
    for fn, spec in specs.items():
        (site,) = spec.sites
        entry = sym(dump, fn, True)
        assert site.base + 4 * site.entry == entry
        literal = m >= 2 and (entry - 8) % 8 == 0
        assert bool(site.data) == literal
        assert site.entry == (0 if literal else m)
        assert site.nslots == site.entry + int(bti) + 2
        words = [word_at(dump, site.base + 4 * i, True) for i in range(site.nslots)]
        expected = [NOP] * site.entry + [BTI_C] * int(bti) + [NOP, NOP]
        assert words == expected
        assert state(spec, "OFF") == tuple(expected[:-2]) + (MOV_X9_X30, NOP)
    assert set(verdicts(tmp_path).values()) == {"safe"}


@pytest.mark.parametrize("layout", ["1", "4,4"])
def test_too_few_nops_after_the_entry_is_an_error_naming_the_function(
        cross: Cross, tmp_path: Path, layout: str) -> None:
    obj = cross.compile("funcs.c", f"few{layout.replace(',', '-')}.o",
                        f"-fpatchable-function-entry={layout}")
    code, _, err = extract(str(obj), "-o", str(tmp_path), "--function", "nonleaf")
    assert code == 2
    assert err.strip() == (f"{obj}: error: nonleaf: expected at least 2 NOPs at the entry "
                           f"(-fpatchable-function-entry=2 or more), found "
                           f"{1 if layout == '1' else 0}")
    assert not list(tmp_path.glob("*.yaml"))


def test_a_local_key_is_named_through_its_address(cross: Cross, tmp_path: Path) -> None:
    import subprocess

    obj = cross.compile("static_key_local.c", "local.o")
    relocs = subprocess.run(["aarch64-linux-gnu-readelf", "-r", str(obj)], capture_output=True,
                            text=True, check=True).stdout
    assert "R_AARCH64_PREL64  0000000000000000 .bss + 1" in relocs   # the case under test
    assert extract("--mechanism", "jump-label", str(obj), "-o", str(tmp_path))[0] == 0
    (spec,) = specs_in(tmp_path).values()
    assert "key key_local" in spec.description
    from fpatch.extract.run import extract_file
    from fpatch.extract.template import builtin

    (site,) = extract_file(str(obj), builtin("jump-label"), tmp_path, (), {}).sites
    assert (site.variables["key"], site.variables["branch"]) == ("key_local", 1)
