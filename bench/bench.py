"""Benchmarks (not tests): per-spec timings, litmus CPU time, scaling tables.

Run with `make bench`. Prints, for every spec in specs/, wall time, time in
the solver and the number of solver queries; the CPU time of the architecture
model on the visible herd litmus tests (both evaluators); then how both engines
scale with the number of slots in a site and with the number of patcher steps.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import time
from pathlib import Path

from fpatch.encoding import check_spec
from fpatch.enumerate import check as enum_check
from fpatch.spec import parse_file, parse_text

ROOT = Path(__file__).resolve().parents[1]

HELPER = """helpers:
  ftrace_caller:
    address: 0xffff800008010000
    inputs: [x9, x30, sp]
    restores: {x30: x9}
    clobbers: [x9]
"""


def scaling_spec(slots: int, steps: int) -> str:
    """A site of `slots` slots whose last two are `mov x9, x30 ; nop<->bl`, toggled by
    `steps` primitive steps (write, dc, dsb, ic, dsb, isb, write back, ...)."""
    off = ["nop"] * (slots - 2) + ["mov x9, x30", "nop"]
    on = off[:-1] + ["bl ftrace_caller"]
    last = slots - 1
    cycle = [f"write: {{slot: {last}, as: ON}}", f"dc_cvau: {{slots: [{last}]}}",
             "dsb: ish", f"ic_ivau: {{slots: [{last}]}}", "dsb: ish", "isb",
             f"write: {{slot: {last}, as: OFF}}", f"dc_cvau: {{slots: [{last}]}}",
             "dsb: ish", f"ic_ivau: {{slots: [{last}]}}", "dsb: ish", "isb"]
    body = [cycle[i % len(cycle)] for i in range(steps)]
    lines = ["fpatch: 1", "env: {preemptible: true, nmi: true}", HELPER.rstrip(), "sites:",
             "  f:", "    base: 0xffff800008200000", f"    slots: {slots}", "    states:",
             "      OFF:"] + [f"        - {i}" for i in off] + ["      ON:"]
    lines += [f"        - {i}" for i in on] + ["    initial: OFF", "steps:"]
    lines += [f"  - {b}" for b in body]
    return "\n".join(lines) + "\n"


def rewrite_spec(k: int, preemptible: bool) -> str:
    """k slots rewritten at once inside stop_machine (nop -> add x0, x0, #1)."""
    lines = ["fpatch: 1", f"env: {{preemptible: {str(preemptible).lower()}, nmi: false}}",
             "sites:", "  f:", "    base: 0x10000", f"    slots: {k}", "    states:", "      OFF:"]
    lines += ["        - nop"] * k + ["      ON:"] + ['        - "add x0, x0, #1"'] * k
    lines += ["    initial: OFF", "steps:", "  - stop_machine:",
              f"      - write: {{slots: {list(range(k))}, as: ON}}", "      - sync_icache: f"]
    return "\n".join(lines) + "\n"


def _timed(engine: str, text: str, q: mp.Queue) -> None:  # type: ignore[type-arg]
    spec = parse_text(text, "bench.yaml")
    t0 = time.perf_counter()
    r = check_spec(spec) if engine == "smt" else enum_check(spec)
    q.put((time.perf_counter() - t0, r.verdict))


def run_limited(engine: str, text: str, limit: float) -> str:
    q: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    p = mp.Process(target=_timed, args=(engine, text, q))
    p.start()
    p.join(limit)
    if p.is_alive():
        p.kill()
        p.join()
        return f">{limit:.0f}s"
    secs, verdict = q.get()
    return f"{secs:.2f}s {verdict}"


def per_spec(repeat: int) -> None:
    print(f"{'spec':52} {'verdict':8} {'wall s':>7} {'z3 s':>7} {'queries':>7} {'enum s':>7}")
    total = 0.0
    for path in sorted((ROOT / "specs").glob("*.yaml")):
        spec = parse_file(path)
        walls = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            r = check_spec(spec)
            walls.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        enum_check(spec)
        enum_s = time.perf_counter() - t0
        wall = statistics.median(walls)
        total += wall
        z3s = sum(o.solver_seconds for o in r.observers)
        q = sum(o.queries for o in r.observers)
        print(f"{path.name:52} {r.verdict:8} {wall:7.3f} {z3s:7.3f} {q:7d} {enum_s:7.3f}")
    label = f"total (median of {repeat} runs each)"
    print(f"{label:52} {'':8} {total:7.3f}")


def scaling(limit: float) -> None:
    print("\nscaling: slots per site (steps = 12)")
    print(f"{'slots':>6} {'smt':>16} {'enum':>16}")
    for slots in (2, 4, 8, 16, 32):
        text = scaling_spec(slots, 12)
        print(f"{slots:6} {run_limited('smt', text, limit):>16} {run_limited('enum', text, limit):>16}")
    print("\nscaling: patcher steps (slots = 2)")
    print(f"{'steps':>6} {'smt':>16} {'enum':>16}")
    for steps in (2, 4, 8, 16, 32, 64):
        text = scaling_spec(2, steps)
        print(f"{steps:6} {run_limited('smt', text, limit):>16} {run_limited('enum', text, limit):>16}")


    print("\nscaling: slots rewritten in one stop_machine block (non-preemptible: safe; "
          "preemptible: unsafe)")
    print(f"{'slots':>6} {'smt (non-pre)':>16} {'enum (non-pre)':>16} {'smt (pre)':>16} "
          f"{'enum (pre)':>16}")
    for k in (1, 2, 4, 8, 16):
        cells = [run_limited(e, rewrite_spec(k, pre), limit)
                 for pre in (False, True) for e in ("smt", "enum")]
        print(f"{k:6} " + " ".join(f"{c:>16}" for c in cells))


SHARED = ROOT.parent / "shared" / "data"
LITMUS_SETS = {"herd-ifetch DIC0-IDC0 (107)": SHARED / "herd-ifetch" / "DIC0-IDC0",
               "herd-ifetch-gen (240)": SHARED / "herd-ifetch-gen" / "tests"}


def litmus(repeat: int) -> None:
    """CPU time of the architecture model on the visible herd tests: one whole
    `fpatch litmus` process (target for the catalogue: <= 1.0 s of CPU; herd7 needs
    about 0.8 s), and each evaluator in-process (parsing excluded)."""
    import os
    import subprocess
    import sys

    from fpatch.litmus.engine import check as litmus_check
    from fpatch.litmus.parse import LitmusSyntaxError, LitmusUnsupported
    from fpatch.litmus.parse import parse_file as parse_litmus

    print("\nlitmus: CPU seconds (median of runs)")
    print(f"{'set':32} {'fpatch litmus process':>22} {'explicit':>10} {'z3':>8}")
    exe = Path(sys.executable).parent / "fpatch"
    for name, folder in LITMUS_SETS.items():
        if not folder.is_dir():
            print(f"{name:32} (missing: {folder})")
            continue
        procs = []
        for _ in range(repeat):
            before = os.times()
            subprocess.run([str(exe), "litmus", str(folder)], capture_output=True, check=False)
            after = os.times()
            procs.append((after.children_user - before.children_user)
                         + (after.children_system - before.children_system))
        tests = []
        for p in sorted(folder.glob("*.litmus")):
            try:
                tests.append(parse_litmus(p))
            except (LitmusSyntaxError, LitmusUnsupported):
                pass
        cells = []
        for engine, n in (("explicit", repeat), ("smt", 1)):
            times = []
            for _ in range(n):
                t0 = time.process_time()
                for t in tests:
                    litmus_check(t, engine)
                times.append(time.process_time() - t0)
            cells.append(statistics.median(times))
        print(f"{name:32} {statistics.median(procs):22.2f} {cells[0]:10.2f} {cells[1]:8.2f}")


# ---------------------------------------------------------------- kernel-scale batches

BATCH_SHAPES = (  # (template, slots, entry states OFF/ON, patched slot): arm64 ftrace entries
    ("plain", ["'mov x9, x30'", "nop"], ["'mov x9, x30'", "bl ftrace_caller"], 1),
    ("bti", ["bti c", "'mov x9, x30'", "nop"], ["bti c", "'mov x9, x30'", "bl ftrace_caller"], 2),
    ("pac", ["paciasp", "'mov x9, x30'", "nop"], ["paciasp", "'mov x9, x30'", "bl ftrace_caller"],
     2),
)


def batch_spec(n: int) -> str:
    """n ftrace sites of three shapes in one batch, as `fpatch extract --batch` writes
    them: a template per shape with its instances by function name, every call slot
    written, then one range flush (the per-site words differ: `bl` is PC-relative)."""
    lines = ["fpatch: 1", f"name: ftrace-batch-{n}", "cache: {idc: false, dic: false}",
             "env: {preemptible: true, nmi: true}", HELPER.rstrip(), "      returns_to: x30",
             "sites:"]
    lines = [ln.replace("      returns_to", "    returns_to") for ln in lines]
    base = 0xFFFF800008200000
    steps = []
    for k, (name, off, on, slot) in enumerate(BATCH_SHAPES):
        count = n // len(BATCH_SHAPES) + (k < n % len(BATCH_SHAPES))
        lines += [f"  {name}:", f"    slots: {len(off)}", "    states:",
                  f"      OFF: [{', '.join(off)}]", f"      ON: [{', '.join(on)}]", "    instances:"]
        lines += [f"      {name}_func_{i}: {base + 0x40 * i:#x}" for i in range(count)]
        base += 0x40 * count
        steps += [f"  - write: {{sites: [{name}], slot: {slot}, as: ON}}",
                  f"  - sync_icache: {{sites: [{name}], slots: [{slot}]}}"]
    return "\n".join(lines + ["steps:"] + steps + ["expect: safe"]) + "\n"


def _cli(args: list[str]) -> tuple[float, float, float, int, str]:
    """(wall seconds, CPU seconds, peak RSS in MB of the fpatch process and its workers,
    exit status, last line). CPU time says what wall time means on a loaded machine."""
    import os
    import subprocess
    import sys

    t0 = time.perf_counter()
    p = subprocess.Popen([sys.executable, "-m", "fpatch.cli", "check", "-q", *args],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert p.stdout is not None
    out = p.stdout.read()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    last = out.strip().splitlines()[-1] if out.strip() else ""
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, p.returncode, last


def batches(sizes: tuple[int, ...] = (10_000, 50_000), folder: int = 10_000, jobs: int = 2
            ) -> None:
    """Issue 10's targets: 10,000 sites in one batch < 30 s, 50,000 < 60 s, a folder of
    10,000 small specs < 60 s with -j 2, peak memory < 1 GB (the parent's; workers of -j
    are measured by the folder run's own peak, printed per process by getrusage)."""
    import resource
    import tempfile

    print("\nkernel-scale batches (fpatch check -q, wall time, peak RSS)")
    print(f"{'case':44} {'seconds':>8} {'cpu s':>7} {'target':>7} {'peak MB':>8}  result")
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            path = Path(tmp) / f"batch-{n}.yaml"
            path.write_text(batch_spec(n), encoding="utf-8")
            wall, cpu, mb, code, last = _cli([str(path)])
            target = 30 if n <= 10_000 else 60
            print(f"{f'{n} ftrace sites, 3 shapes, one batch':44} {wall:8.1f} {cpu:7.1f} "
                  f"{target:7} {mb:8.0f}  exit {code}: {last[:60]}")
        d = Path(tmp) / "folder"
        d.mkdir()
        src = (ROOT / "specs" / "ftrace-mov-x9-nop-bl.yaml").read_text(encoding="utf-8")
        others = [(ROOT / "specs" / f).read_text(encoding="utf-8") for f in
                  ("ftrace-sync-icache-idc1-dic0.yaml", "jump-label-nop-b.yaml")]
        for i in range(folder):
            text = [src, *others][i % 3]
            if i % 3 == 0:  # the same shape at another address: bl is assembled there
                text = text.replace("0xffff800008200000", f"{0xFFFF800008200000 + 0x40 * i:#x}")
            (d / f"spec-{i:05}.yaml").write_text(text, encoding="utf-8")
        wall, cpu, mb, code, last = _cli(["-j", str(jobs), str(d)])
        kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"{f'folder of {folder} small specs, -j {jobs}':44} {wall:8.1f} {cpu:7.1f} "
              f"{60:7} {mb:8.0f}  exit {code}: {last[:60]}")
        print(f"largest child process of the whole section: {kids:.0f} MB (target < 1024)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--limit", type=float, default=60.0, help="seconds per scaling cell")
    ap.add_argument("--no-scaling", action="store_true")
    ap.add_argument("--litmus-only", action="store_true")
    ap.add_argument("--batches-only", action="store_true",
                    help="only the kernel-scale batch targets (issue 10)")
    a = ap.parse_args()
    if a.litmus_only:
        litmus(a.repeat)
        return
    if a.batches_only:
        batches()
        return
    per_spec(a.repeat)
    litmus(a.repeat)
    batches()
    if not a.no_scaling:
        scaling(a.limit)


if __name__ == "__main__":
    main()
