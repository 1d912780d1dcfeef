"""ITF traces: written for every counterexample, replayed by ``numacheck replay`` with exit 0/1/2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from numacheck.checker.cli import main
from numacheck.checker.traces.itf import ItfError, layout, nest

RC1 = ["verify", "-e", "bmc", "-v", "linux-4.0-rc1", "-p", "numa-restore-keeps-write", "--depth", "8"]


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main(argv)
    out, err = capsys.readouterr()
    return int(done.value.code or 0), out, err


@pytest.fixture(scope="module")
def trace_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("itf")
    with pytest.raises(SystemExit) as done:
        main([*RC1, "--format", "itf", "--output", str(folder)])
    assert done.value.code == 0
    files = list(folder.glob("*.itf.json"))
    assert [f.name for f in files] == ["linux-4.0-rc1__numa-restore-keeps-write.itf.json"]
    return files[0]


def test_itf_document_shape(trace_file: Path) -> None:
    doc = json.loads(trace_file.read_text())
    assert doc["#meta"]["format"] == "ITF"
    assert doc["#meta"]["numacheck"]["instance"] == {"processes": 2, "pages": 1, "nodes": 2}
    states = doc["states"]
    assert [s["#meta"]["index"] for s in states] == list(range(len(states)))
    assert len(states) == 7  # the 6-step shortest counterexample
    assert states[-1]["#meta"]["function"] == "do_numa_page"
    # records per process (vma, task, pte list) and per frame; integers as #bigint
    # after do_anonymous_page: the faulting process has a writable PTE to a fresh anon page
    (proc,) = [states[3][p] for p in ("p0", "p1") if states[3][p]["pte"][0]["_PAGE_RW"]]
    assert proc["vma"]["VM_WRITE"] is True
    assert proc["pte"][0]["pfn"] in ("anon0", "anon1")
    assert proc["task"]["numa_node_id"] in ({"#bigint": "0"}, {"#bigint": "1"})
    assert set(doc["vars"]) == {k for k in states[0] if k != "#meta"}


def test_replay_accepts_the_written_trace(trace_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["replay", str(trace_file)], capsys)
    assert code == 0, out
    assert "6 steps" in out and "violates numa-restore-keeps-write" in out


def test_replay_names_the_step_of_a_changed_field(trace_file: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    doc = json.loads(trace_file.read_text())
    (p,) = [p for p in ("p0", "p1") if doc["states"][3][p]["pte"][0]["_PAGE_RW"]]
    doc["states"][3][p]["pte"][0]["_PAGE_DIRTY"] = False  # do_anonymous_page sets _PAGE_DIRTY
    bad = tmp_path / "changed.itf.json"
    bad.write_text(json.dumps(doc))
    code, out, _ = run(["replay", str(bad)], capsys)
    assert code == 1
    assert "step 3 (do_anonymous_page" in out and f"{p}.pte[0]._PAGE_DIRTY is 0 in the trace" in out


def test_replay_on_another_variant_names_the_first_differing_step(trace_file: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    # linux-4.0 restores _PAGE_RW, so the last step reaches a different state there
    code, out, _ = run(["replay", str(trace_file), "--variant", "linux-4.0"], capsys)
    assert code == 1
    assert "step 4 (change_prot_numa" in out


def test_replay_rejects_a_truncated_file(trace_file: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    cut = tmp_path / "cut.itf.json"
    text = trace_file.read_text()
    cut.write_text(text[: len(text) // 2])
    code, _, err = run(["replay", str(cut)], capsys)
    assert code == 2
    assert "not a valid trace" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("damage", ["no_states", "bad_value", "missing_field", "bad_index", "no_meta",
                                    "not_utf8", "deep"])
def test_replay_rejects_malformed_traces(trace_file: Path, tmp_path: Path, damage: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    doc = json.loads(trace_file.read_text())
    if damage == "not_utf8":
        bad = tmp_path / "bin.itf.json"
        bad.write_bytes(b"\xff\xfe{")
        code, _, err = run(["replay", str(bad)], capsys)
        assert code == 2 and "not UTF-8" in err
        return
    if damage == "deep":
        bad = tmp_path / "deep.itf.json"
        bad.write_text("[" * 200_000)
        code, _, err = run(["replay", str(bad)], capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1
        return
    if damage == "no_states":
        doc["states"] = []
    elif damage == "bad_value":
        doc["states"][2]["p0"]["task"]["numa_node_id"] = {"#bigint": "9"}
    elif damage == "missing_field":
        del doc["states"][1]["anon0"]
    elif damage == "bad_index":
        doc["states"][1]["#meta"]["index"] = 5
    else:
        del doc["#meta"]
    bad = tmp_path / f"{damage}.itf.json"
    bad.write_text(json.dumps(doc))
    code, _, err = run(["replay", str(bad)], capsys)
    assert code == 2, err
    assert err.startswith("numacheck: ") and len(err.strip().splitlines()) == 1


def test_layout_reads_the_field_name_as_records_and_lists() -> None:
    class F:
        def __init__(self, name: str) -> None:
            self.name = name

    fields = [F("p0.pte[1]._PAGE_RW"), F("p0.pte[0]._PAGE_RW"), F("p0.vma.mapped"), F("x")]
    paths = layout(fields)
    assert paths["p0.pte[1]._PAGE_RW"] == ("p0", "pte", 1, "_PAGE_RW")
    assert paths["x"] == ("x",)
    nested = nest({paths[f.name]: f.name for f in fields})
    assert nested["p0"]["pte"][1]["_PAGE_RW"] == "p0.pte[1]._PAGE_RW"
    assert nested["p0"]["vma"]["mapped"] == "p0.vma.mapped"


def test_replay_rejects_a_field_the_model_does_not_have(trace_file: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    doc = json.loads(trace_file.read_text())
    doc["states"][1]["p0"]["pte"][0]["write"] = True  # an old spelling of _PAGE_RW
    bad = tmp_path / "old.itf.json"
    bad.write_text(json.dumps(doc))
    code, _, err = run(["replay", str(bad)], capsys)
    assert code == 2 and "state 1 has field p0.pte[0].write, which the model does not have" in err


def test_layout_rejects_a_field_inside_another() -> None:
    class F:
        def __init__(self, name: str) -> None:
            self.name = name

    with pytest.raises(ItfError, match="inside another field"):
        layout([F("p0.vma"), F("p0.vma.mapped")])


REVERT = """
from numacheck.model import VARIANTS
from numacheck.model.ops.numa import do_numa_page

VARIANT = VARIANTS["linux-4.9"].derive(
    "linux-4.9-revert",
    replace_ops=(do_numa_page("4.0-rc1"),),
    expect_violated={"numa-restore-keeps-write": "restores from vm_page_prot"},
)
"""


def test_a_variant_file_trace_names_its_file_and_replays_only_on_request(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    variant = tmp_path / "revert.py"
    variant.write_text(REVERT)
    folder = tmp_path / "traces"
    code, _, _ = run(["verify", "-e", "bmc", "--depth", "8", "-v", str(variant), "-p",
                      "numa-restore-keeps-write", "--format", "itf", "-o", str(folder)], capsys)
    assert code == 0
    (trace,) = folder.glob("*.itf.json")
    meta = json.loads(trace.read_text())["#meta"]["numacheck"]
    assert meta["variant"] == "linux-4.9-revert" and meta["variant_file"] == str(variant.resolve())
    code, _, err = run(["replay", str(trace)], capsys)  # never runs the file a trace names
    assert code == 2 and f"pass --variant {variant.resolve()}" in err
    code, out, _ = run(["replay", str(trace), "--variant", str(variant)], capsys)
    assert code == 0, out
