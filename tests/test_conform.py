"""numacheck conform without a guest: the scenario language, the prediction, the comparison, the
reports and the command's exit codes (tests/test_conform_boot.py boots a kernel)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from numacheck.checker.cli import main
from numacheck.conform import guest
from numacheck.conform.compare import AGREE, DISAGREE, INCONCLUSIVE, NOT_APPLICABLE, check_scenario
from numacheck.conform.predict import Observation, predict
from numacheck.conform.runner import Console, Counts, RunResult, program
from numacheck.conform.scenario import ScenarioError, builtin, parse
from numacheck.model.variants import BUILTIN as VARIANTS

V60, V40RC1 = VARIANTS["linux-6.0"], VARIANTS["linux-4.0-rc1"]

WRITE_SCAN_WRITE = """
scenario wsw
  # a comment describes the scenario
  mmap MAP_PRIVATE PROT_READ|PROT_WRITE 1
  write 0
  numa_scan   # trailing comments are fine
  write 0
"""


def obs(faults: int, hint: int = 0, local: int = 0, migrated: int = 0, segv: bool = False) -> Observation:
    return Observation(faults, hint, local, migrated, segv)


def counts(faults: int = 0, hint: int = 0, local: int = 0, migrated: int = 0, seq: int = 0,
           segv: int = 0, nodes: tuple[int, ...] = (0,)) -> Counts:
    return Counts(faults, hint, local, migrated, 0, seq, segv, nodes)


NONE = counts(nodes=(-1,))  # the mmap step: no page yet


def access_predictions(variant_name: str, text: str) -> list[set[Observation]]:
    scenario = parse(text)[0]
    return [set(p.observations) for p in predict(VARIANTS[variant_name], scenario) if p.step.is_access]


# --- the scenario language ------------------------------------------------------------------


def test_parse_steps_and_doc() -> None:
    [s] = parse(WRITE_SCAN_WRITE, "f.scn")
    assert s.name == "wsw" and s.doc == "a comment describes the scenario"
    assert [st.text() for st in s.steps] == [
        "mmap MAP_PRIVATE PROT_READ|PROT_WRITE 1", "write 0", "numa_scan", "write 0"]
    assert s.where == "f.scn:2" and s.pages == 1 and s.processes == 1
    assert parse(s.text())[0].steps == s.steps  # text() reads back the same


@pytest.mark.parametrize(("text", "message"), [
    ("scenario a\n  mmap MAP_PRIVATE PROT_READ 1\n  jump 0\n", "f.scn:3: unknown step 'jump'"),
    ("scenario a\n  mmap MAP_PRIVATE PROT_EXEC 1\n", "f.scn:2: unknown protection 'PROT_EXEC'"),
    ("scenario a\n  mmap MAP_PRIVATE PROT_READ 9\n", "the page count must be a number from 1 to 4"),
    ("scenario a\n  mmap MAP_PRIVATE PROT_READ 1\n  read 2\n", "the region has 1 page(s)"),
    ("scenario a\n  write 0\n", "must start with mmap"),
    ("scenario a\n  mmap MAP_PRIVATE PROT_READ 1\n  child_exit\n", "no child to exit"),
    ("scenario a\n  mmap MAP_PRIVATE PROT_READ 1\n  mbind\n", "mbind is modelled for a MAP_SHARED"),
    ("scenario a\n  mmap MAP_PRIVATE PROT_READ 1\n  munmap\n  read 0\n", "needs the region mapped"),
    ("scenario a\n  mmap MAP_PRIVATE PROT_READ 1\nscenario a\n", "f.scn:3: scenario a is defined twice"),
    ("  read 0\n", "f.scn:1: a step before the first 'scenario NAME' line"),
    ("scenario a@b\n", "f.scn:1: write 'scenario NAME', NAME one word"),
    ("# nothing\n", "no scenario in the file"),
    ("scenario a\n  mmap MAP_PRIVATE PROT_READ 1\n  read\n", "read takes 1 argument(s): read PAGE"),
    ("scenario a\n  mmap MAP_PRIVATE PROT_READ 1\n" + "  fork\n" * 4, "at most 3 forks"),
])
def test_parse_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=None) as err:
        parse(text, "f.scn")
    assert message in str(err.value)


def test_builtin_scenarios() -> None:
    scenarios = builtin()
    assert len(scenarios) >= 24
    assert len({s.name for s in scenarios}) == len(scenarios)
    ops = {st.op for s in scenarios for st in s.steps}
    assert ops == {"mmap", "read", "write", "fork", "child_exit", "mprotect", "munmap", "mbind",
                   "clear_refs", "move_to_node", "numa_scan"}
    assert all(s.doc for s in scenarios)


def test_probe_program() -> None:
    [s] = parse(WRITE_SCAN_WRITE + "  move_to_node 1\n  mprotect PROT_NONE\n")
    assert program([s], 2).splitlines() == [
        "run wsw 0", "mmap private 3 1", "write 0", "numa_scan", "write 0", "node 1", "mprotect 0",
        "end", "run wsw 1", "mmap private 3 1", "write 0", "numa_scan", "write 0", "node 1",
        "mprotect 0", "end"]


# --- prediction ------------------------------------------------------------------------------


def test_write_bit_kept_in_6_0_lost_in_4_0_rc1() -> None:
    assert access_predictions("linux-6.0", WRITE_SCAN_WRITE) == [{obs(1)}, {obs(1, 1, 1)}]
    # 4d9424669946: do_numa_page restores from vm_page_prot, so the retried write faults again
    assert access_predictions("linux-4.0-rc1", WRITE_SCAN_WRITE) == [{obs(1)}, {obs(2, 1, 1)}]


def test_remote_hint_fault_leaves_migration_open() -> None:
    text = ("scenario r\n  mmap MAP_PRIVATE PROT_READ|PROT_WRITE 1\n  write 0\n  move_to_node 1\n"
            "  numa_scan\n  read 0\n  write 0\n")
    assert access_predictions("linux-6.0", text) == [
        {obs(1)}, {obs(1, 1, 0, 0), obs(1, 1, 0, 1)}, {obs(0)}]


def test_zero_page_and_sigsegv() -> None:
    text = ("scenario z\n  mmap MAP_PRIVATE PROT_READ 1\n  write 0\n  read 0\n  numa_scan\n"
            "  read 0\n  mprotect PROT_NONE\n  read 0\n")
    assert access_predictions("linux-6.0", text) == [
        {obs(0, segv=True)}, {obs(1)}, {obs(0)}, {obs(0, segv=True)}]


def test_scan_skips_cow_shared_page_from_4_16() -> None:
    text = ("scenario f\n  mmap MAP_PRIVATE PROT_READ|PROT_WRITE 1\n  write 0\n  fork\n"
            "  numa_scan\n  read 0\n")
    assert access_predictions("linux-6.0", text)[-1] == {obs(0)}
    assert access_predictions("linux-4.0-rc1", text)[-1] == {obs(1, 1, 1)}


def test_every_builtin_scenario_is_predicted_for_6_0() -> None:
    for s in builtin():
        steps = predict(V60, s)
        assert all(p.observations for p in steps if p.step.is_access), s.name


def test_mbind_scenario_not_applicable_without_mbind() -> None:
    [s] = parse("scenario m\n  mmap MAP_SHARED PROT_READ|PROT_WRITE 1\n  mbind\n  write 0\n")
    check = check_scenario(V40RC1, s, [RunResult("m", 0, [NONE] * 3, done=True)])
    assert check.verdict == NOT_APPLICABLE and "has no mbind" in check.note


# --- comparison ------------------------------------------------------------------------------


def run(*steps: Counts) -> RunResult:
    return RunResult("wsw", 0, list(steps), done=True)


def test_comparison_verdicts() -> None:
    [s] = parse(WRITE_SCAN_WRITE)
    # 6.1's move_pages() does not see the page behind the hint: not compared
    good = run(NONE, counts(1), counts(seq=1, nodes=(-1,)), counts(1, 1, 1))
    assert check_scenario(V60, s, [good]).verdict == AGREE
    assert check_scenario(V40RC1, s, [good]).verdict == DISAGREE
    no_scan = run(NONE, counts(1), counts(seq=0), counts(1, 1, 1))
    assert check_scenario(V60, s, [no_scan]).runs[0].steps[2].note == "the NUMA scan never happened"
    assert check_scenario(V60, s, [no_scan]).verdict == INCONCLUSIVE
    disturbed = run(NONE, counts(1, seq=1), counts(seq=1), counts(1, 1, 1))
    assert check_scenario(V60, s, [disturbed]).verdict == INCONCLUSIVE
    short = RunResult("wsw", 0, [NONE, counts(1)], "probe died")
    assert check_scenario(V60, s, [short]).verdict == INCONCLUSIVE
    # one disagreeing run of three is a disagreement
    assert check_scenario(V60, s, [good, run(NONE, counts(1), counts(seq=1), counts(2, 1, 1)),
                                   good]).verdict == DISAGREE
    # the page's node is compared after every step, the mmap's too
    wrong_node = run(NONE, counts(1, nodes=(1,)), counts(seq=1), counts(1, 1, 1))
    [checked] = check_scenario(V60, s, [wrong_node]).runs
    assert checked.steps[1].verdict == DISAGREE
    assert checked.steps[1].note == ("measured faults=1 hint=0/local=0 migrated=0 pages [1]; the model "
                                     "allows faults=1 hint=0/local=0 migrated=0 pages [0]")
    assert check_scenario(V60, s, [run(counts(), counts(1), counts(seq=1), counts(1, 1, 1))]
                          ).runs[0].steps[0].verdict == DISAGREE


def test_comparison_follows_the_measured_path() -> None:
    # migrated or not is open; the measured outcome picks the states the next step starts from
    text = ("scenario r\n  mmap MAP_PRIVATE PROT_READ|PROT_WRITE 1\n  write 0\n  move_to_node 1\n"
            "  numa_scan\n  read 0\n  write 0\n")
    [s] = parse(text)
    for migrated in (0, 1):
        r = RunResult("r", 0, [NONE, counts(1), counts(), counts(seq=1),
                               counts(1, 1, 0, migrated, nodes=(migrated,)), counts(nodes=(migrated,))],
                      done=True)
        assert check_scenario(V60, s, [r]).verdict == AGREE
        # a migration counted but the page still on node 0 is on no path of the model
        r.steps[4] = counts(1, 1, 0, 1, nodes=(0,))
        assert check_scenario(V60, s, [r]).verdict == DISAGREE


# --- guest pieces ----------------------------------------------------------------------------


def test_console_lines_into_runs() -> None:
    runs = {("wsw", 0): RunResult("wsw", 0), ("wsw", 1): RunResult("wsw", 1)}
    seen: list[str] = []
    console = Console(runs, seen.append)
    for line in [
        "@guest 6.1.0-57-amd64",
        "@step wsw 0 0 minflt=0 hint=0 local=0 migrated=0 pte=0 seq=0 segv=0 nodes=-1",
        "[    4.1] random: crng init done@step wsw 0 1 minflt=1 hint=0 local=0 migrated=0 pte=0 "
        "seq=0 segv=0 nodes=0",
        "@step wsw 0 3 minflt=9 hint=9 local=9 migrated=9 pte=0 seq=0 segv=0 nodes=0",  # out of order
        "@run wsw 0 ok",
        "@step wsw 1 0 minflt=0 hint=0 local=0 migrated=0 pte=0 seq=0 segv=0 nodes=-1",
        "@run wsw 1 error mbind: Invalid argument",
        "@run wsw 1 error exit status 256",  # the parent's report after the child's: ignored
    ]:
        console.feed(line)
    assert console.release == "6.1.0-57-amd64" and console.finished == 2
    assert runs[("wsw", 0)].steps == [NONE, counts(1)] and runs[("wsw", 0)].done
    assert runs[("wsw", 1)].error == "mbind: Invalid argument" and not runs[("wsw", 1)].done
    assert seen[0].startswith("guest up after") and "run 2/2: wsw #2 failed: mbind" in seen[-1]
    console.feed("@fatal one NUMA node: the kernel needs CONFIG_NUMA")
    assert console.fatal == "one NUMA node: the kernel needs CONFIG_NUMA"
    console.feed("@run - - error sigaltstack: Cannot allocate memory")
    assert console.problem.startswith("the probe failed: @run - - error sigaltstack")


def test_init_script_checks_the_kernel_first() -> None:
    script = guest.init_script(guest.Tuning(scan_period_ms=25, scan_size_mb=64))
    lines = script.splitlines()
    probe = next(i for i, line in enumerate(lines) if line.startswith("/probe "))
    checks = [i for i, line in enumerate(lines) if "fatal '" in line]
    assert checks and max(checks) < probe
    assert "echo 25 > ${T}scan_period_min_ms" in lines and "echo 64 > ${T}scan_size_mb" in lines
    assert lines[probe] == "/probe /program 60 120"


def test_initramfs_is_newc() -> None:
    archive = guest.initramfs({"init": (b"#!/bin/sh\n", 0o755)}, ("bin",))
    assert archive.startswith(b"070701")
    assert len(archive) % 4 == 0 and b"TRAILER!!!" in archive
    head = archive[archive.index(b"070701", 6):]
    mode = int(head[14:22], 16)
    assert stat.S_ISREG(mode) and mode & 0o777 == 0o755
    assert int(head[54:62], 16) == len(b"#!/bin/sh\n")


def test_kernel_release_from_setup_header(tmp_path: Path) -> None:
    image = bytearray(0x400)
    image[0x202:0x206] = b"HdrS"
    image[0x20E:0x210] = (0x100).to_bytes(2, "little")
    image[0x300:0x320] = b"6.1.0-57-amd64 (debian@x) #1\0".ljust(32, b"\0")
    path = tmp_path / "vmlinuz"
    path.write_bytes(bytes(image))
    assert guest.kernel_release(path) == "6.1.0-57-amd64"
    assert guest.release_version("6.1.0-57-amd64") == "6.1"
    assert guest.release_version("6.8.0-rc3+") == "6.8-rc3"
    path.write_bytes(b"\0" * 0x400)
    with pytest.raises(guest.ToolError, match="not an x86 bzImage"):
        guest.kernel_release(path)


# --- the command -----------------------------------------------------------------------------


def exit_of(args: list[str]) -> int:
    with pytest.raises(SystemExit) as done:
        main(args)
    return int(done.value.code or 0)


def test_missing_tools_name_the_debian_package(monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str],
                                                tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    image = tmp_path / "bzImage"
    image.write_bytes(b"\0" * 0x202 + b"HdrS" + b"\0" * 8 + (0x30).to_bytes(2, "little")
                      + b"\0" * 0x20 + b"6.1.0\0")
    assert exit_of(["conform", "--kernel-image", str(image), "-s", "anon-write-first"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("numacheck: qemu-system-x86_64 not found; install the Debian package "
                   "qemu-system-x86 (apt-get install qemu-system-x86)")
    assert exit_of(["conform", "--kernel-image", str(tmp_path / "none")]) == 2
    assert "linux-image-amd64" in capsys.readouterr().err
    monkeypatch.setattr(guest, "BOOT", tmp_path / "boot")
    assert exit_of(["conform"]) == 2
    assert "no kernel image in /boot; install the Debian package linux-image-amd64" in capsys.readouterr().err


def _report(tmp_path: Path, *steps: Counts, repeats: int = 1) -> Path:
    """A JSON report as a boot would write it, with these counts for scenario wsw."""
    [s] = parse(WRITE_SCAN_WRITE)
    doc = {"format": "numacheck-conform/1", "kernel_image": "/boot/vmlinuz-6.1.0-57-amd64",
           "kernel_release": "6.1.0-57-amd64", "variant": "linux-6.1", "repeats": repeats,
           "seconds": 1.0, "problem": "",
           "scenarios": [{"name": "wsw", "text": s.text(), "runs": [
               {"repeat": r, "error": "", "finished": True,
                "steps": [{"counts": {**c.__dict__, "nodes": list(c.nodes)}} for c in steps]}
               for r in range(repeats)]}]}
    path = tmp_path / "measured.json"
    path.write_text(json.dumps(doc))
    return path


def test_measured_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = _report(tmp_path, NONE, counts(1), counts(seq=1), counts(1, 1, 1), repeats=3)
    assert exit_of(["conform", "--measured", str(good)]) == 0  # variant from the release: 6.1
    out = capsys.readouterr().out
    assert "6.1.0-57-amd64 against linux-6.1" in out and "1 scenarios: 1 agree" in out
    assert "faults=1 hint=1/local=1 migrated=0  pages [0] x3" in out
    assert exit_of(["conform", "--measured", str(good), "--variant", "linux-4.0-rc1"]) == 1
    assert "the model allows faults=2 hint=1/local=1" in capsys.readouterr().out
    junit = tmp_path / "out.xml"
    js = tmp_path / "out.json"
    no_scan = _report(tmp_path, NONE, counts(1), counts(), counts(1, 1, 1))
    assert exit_of(["conform", "--measured", str(no_scan), "--junit", str(junit), "--json", str(js)]) == 3
    capsys.readouterr()
    assert 'errors="1"' in junit.read_text() and "the NUMA scan never happened" in junit.read_text()
    doc = json.loads(js.read_text())
    assert doc["verdicts"] == {"inconclusive": 1} and doc["exit_code"] == 3
    assert doc["scenarios"][0]["runs"][0]["steps"][2]["counts"]["seq"] == 0
    # the JSON written reads back as measurements
    assert exit_of(["conform", "--measured", str(js), "--json", "-"]) == 3
    assert json.loads(capsys.readouterr().out)["scenarios"][0]["verdict"] == "inconclusive"
    (tmp_path / "bad.json").write_text("{}")
    assert exit_of(["conform", "--measured", str(tmp_path / "bad.json")]) == 2
    assert "not a numacheck conform JSON report" in capsys.readouterr().err


def test_scenario_file_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.scn"
    bad.write_text("scenario x\n  mmap MAP_PRIVATE PROT_READ 1\n  jump\n")
    assert exit_of(["conform", "--scenario", str(bad)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"numacheck: {bad}:3: unknown step 'jump'; steps: mmap, read, write, fork, child_exit, "
        "mprotect, munmap, mbind, clear_refs, move_to_node, numa_scan")


def test_findings_file_tells_6_0_from_6_1() -> None:
    # a finding of conform's: after a migration by a read, linux-6.0 rebuilds the PTE clean
    # (6.0's remove_migration_pte), 6.1 keeps dirty (2e3468778dbe), so only from 6.1 does
    # mprotect upgrade it; the counts 6.1 measured (migrated, no last fault) fit linux-6.1
    [s] = [s for s in builtin() if s.name == "migrated-by-read-then-mprotect"]
    measured = RunResult(s.name, 0, [NONE, counts(1), counts(), counts(seq=1, nodes=(-1,)),
                                     counts(1, 1, 0, 1, nodes=(1,)), counts(nodes=(1,)),
                                     counts(nodes=(1,)), counts(nodes=(1,))], done=True)
    assert check_scenario(V60, s, [measured]).verdict == DISAGREE
    assert check_scenario(VARIANTS["linux-6.1"], s, [measured]).verdict == AGREE
    assert check_scenario(VARIANTS["linux-6.2"], s, [measured]).verdict == AGREE


# --- the runner against a stand-in for qemu (the real boot: tests/test_conform_boot.py) ------


def _fake_qemu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str) -> Path:
    """Put a qemu-system-x86_64 that runs ``script`` first on PATH; return a kernel image."""
    try:
        guest.gcc()
        guest.busybox()
    except guest.ToolError as exc:
        pytest.skip(f"the initramfs needs gcc and a static busybox: {exc}")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "qemu-system-x86_64"
    fake.write_text("#!/bin/sh\n" + script)
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    image = tmp_path / "bzImage"
    image.write_bytes(b"\0" * 0x202 + b"HdrS" + b"\0" * 8 + (0x30).to_bytes(2, "little")
                      + b"\0" * 0x20 + b"6.1.0-fake\0")
    return image


def test_a_kernel_without_what_the_probe_needs_is_an_input_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    image = _fake_qemu(tmp_path, monkeypatch, "echo '@fatal one NUMA node: the kernel needs CONFIG_NUMA'\n")
    assert exit_of(["conform", "--kernel-image", str(image), "-s", "anon-write-first"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"numacheck: {image}: one NUMA node: the kernel needs CONFIG_NUMA")


def test_a_guest_that_stops_early_is_inconclusive(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    steps = [f"@step anon-write-first 0 {i} minflt={m} hint=0 local=0 migrated=0 pte=0 seq=0 "
             f"segv=0 nodes={n}" for i, (m, n) in enumerate([(0, -1), (1, 0), (0, 0), (0, 0)])]
    script = "".join(f"echo '{line}'\n" for line in ["@guest 6.1.0-fake", *steps,
                                                      "@run anon-write-first 0 ok",
                                                      "Kernel panic - not syncing: test"])
    image = _fake_qemu(tmp_path, monkeypatch, script)
    code = exit_of(["conform", "--kernel-image", str(image), "-s", "anon-write-first", "-r", "2"])
    out = capsys.readouterr()
    assert code == 3
    assert "faults=1 hint=0/local=0 migrated=0  pages [0] x1, (not measured) x1" in out.out
    problem = out.out.splitlines()[-1]
    assert problem.startswith("problem: the guest stopped before every run finished; the console "
                              "ended with: ")
    assert problem.endswith("@run anon-write-first 0 ok | Kernel panic - not syncing: test")
    assert "run 1/2: anon-write-first #1 done" in out.err


def test_a_guest_past_its_timeout_is_killed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    image = _fake_qemu(tmp_path, monkeypatch, "echo '@guest 6.1.0-fake'\nexec sleep 60\n")
    assert exit_of(["conform", "--kernel-image", str(image), "-s", "anon-write-first",
                    "--timeout", "2"]) == 3
    assert "problem: the guest did not finish within 2 s (--timeout)" in capsys.readouterr().out


RECORDED = Path(__file__).resolve().parent / "data" / "conform-6.1.0-57-amd64.json"
#: Where linux-4.0-rc1's write-bit loss shows: the write after a hinting fault faults again.
WRITE_BIT_LOSS = {"anon-write-scan-write", "anon-write-scan-read-write", "anon-scan-twice",
                  "anon-two-rounds", "anon-three-pages", "anon-remote-write", "anon-remote-read",
                  "anon-allocate-remote", "mprotect-none-not-scanned"}


def test_recorded_debian_6_1_counts_against_the_eras(capsys: pytest.CaptureFixture[str]) -> None:
    # counts a real boot measured (5 runs of each built-in scenario), compared without a guest:
    # a change to the model that breaks agreement with the kernel fails here too
    assert exit_of(["conform", "--measured", str(RECORDED), "--json", "-"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["variant"] == "linux-6.1" and doc["verdicts"] == {"agree": len(builtin())}
    assert exit_of(["conform", "--measured", str(RECORDED), "-v", "linux-4.0-rc1", "--json", "-"]) == 1
    verdicts = {s["name"]: s["verdict"] for s in json.loads(capsys.readouterr().out)["scenarios"]}
    assert WRITE_BIT_LOSS.issubset(n for n, v in verdicts.items() if v == "disagree")
    assert verdicts["shared-mbind-scan"] == verdicts["shared-mbind-remote"] == "n/a"
    assert verdicts["anon-write-first"] == verdicts["fork-after-scan"] == "agree"
