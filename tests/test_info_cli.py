"""`chipsim info` end to end, through the same entry point as the command line."""

from __future__ import annotations

import json

from chipsim.cli import main


def test_info_text_summary(capsys):
    assert main(["info", "hermes64"]) == 0
    out = capsys.readouterr().out
    assert "64 x 256 x 256 crossbar" in out and "4,194,304 weights" in out
    assert "one_phase" in out and "four_phase" in out and "mesh 8 x 8" in out


def test_info_json_is_one_document_with_the_contract_keys(capsys):
    assert main(["info", "hermes64", "--json"]) == 0
    captured = capsys.readouterr()
    d = json.loads(captured.out)
    assert (d["cores"], d["rows"], d["cols"], d["weight_capacity"]) == (64, 256, 256, 64 * 256 * 256)
    assert set(d["read_modes"]) == {"one_phase", "four_phase"}
    for key in ("peak_tops", "tops_per_w", "mvm_ns", "mvm_energy_pj"):
        assert d[key] == d["read_modes"][d["default_read_mode"]][key]
        assert all(m[key] > 0 for m in d["read_modes"].values())
    assert d["read_modes"]["four_phase"]["mvm_ns"] == 4 * d["read_modes"]["one_phase"]["mvm_ns"]


def test_info_bad_file_exits_2_with_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nclock_ghz: fast\n")
    assert main(["info", str(bad), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chipsim: error: bad.yaml: ")
    assert 'clock_ghz: expected a number > 0, got "fast"' in lines[0]


def test_info_unknown_chip_exits_2(capsys):
    assert main(["info", "nosuchchip"]) == 2
    assert "built-in: hermes64" in capsys.readouterr().err
