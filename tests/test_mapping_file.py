"""The mapping file: written, read back identical, and every mistake in it named by file and entry."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from chipsim.arch import load_chip
from chipsim.errors import MappingError
from chipsim.mapping import STRATEGIES, Mapping
from test_mapping import Layer  # the stand-in weight layer of the strategy tests


LAYERS = [Layer("conv0", 27, 56, 1024), Layer("conv1", 504, 112, 1024, ("conv0",)),
          Layer("fc", 112, 10, 1, ("conv1",))]


@pytest.fixture(scope="module")
def chip():
    return load_chip("hermes64")


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_round_trip_is_identical(tmp_path, chip, name):
    mapping = STRATEGIES[name].place(LAYERS, chip, graph="tiny.onnx")
    path = tmp_path / "map.yaml"
    mapping.to_yaml(path)
    assert Mapping.from_yaml(path, chip, LAYERS) == mapping
    text = path.read_text()
    assert text.startswith("# chipsim mapping file")
    assert text.count("# tile ") == len(mapping.placements)  # one line per placement


def test_calibration_fields_are_carried_through(tmp_path, chip):
    path = write_edited(tmp_path, chip, lambda doc: doc["placements"][0].update(
        calibration={"input_range": 1.5, "column_scales": [1.0, 0.5]}))
    mapping = Mapping.from_yaml(path, chip, LAYERS)
    assert mapping.placements[0].calibration == {"input_range": 1.5, "column_scales": [1.0, 0.5]}
    mapping.to_yaml(path)
    assert Mapping.from_yaml(path, chip, LAYERS) == mapping


def test_a_hand_edited_move_to_a_free_core_loads(tmp_path, chip):
    path = write_edited(tmp_path, chip, lambda doc: doc["placements"][0].update(core=63))
    assert Mapping.from_yaml(path, chip, LAYERS).placements[0].core == 63


def write_edited(tmp_path: Path, chip, edit, strategy: str = "sequential") -> Path:
    path = tmp_path / "map.yaml"
    STRATEGIES[strategy].place(LAYERS, chip, graph="tiny.onnx").to_yaml(path)
    doc = yaml.safe_load(path.read_text())
    edit(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def set_entry(i, **fields):
    return lambda doc: doc["placements"][i].update(fields)


def drop_entry(i):
    return lambda doc: doc["placements"].pop(i)


@pytest.mark.parametrize("edit, message", [
    (set_entry(3, core=70), "map.yaml: placements[3].core: core 70 does not exist (chip has 64)"),
    (set_entry(1, layer="conv9"), "map.yaml: placements[1].layer: unknown layer 'conv9' (graph has 3 layers: conv0, conv1, fc)"),
    (set_entry(2, rows=[256, 600]), "map.yaml: placements[2].rows: [256, 600] is not a non-empty range inside layer 'conv1' (rows 0..504)"),
    (set_entry(0, replica=1), "map.yaml: placements[0].replica: replica 1 does not exist (layer 'conv0' has 1 copy)"),
    (set_entry(0, row_offset=240), "map.yaml: placements[0].row_offset: a block of 27 rows at offset 240 does not fit the crossbar (256 rows)"),
    (set_entry(3, core=0), "map.yaml: placements[3]: overlaps placements[0] on core 0"),
    (set_entry(3, core=0, row_offset=27), "map.yaml: placements[3]: shares crossbar columns with placements[0] on core 0"),
    (set_entry(2, rows=[0, 248]), "map.yaml: placements[2]: block overlaps placements[1] (both hold weights of layer 'conv1', replica 0)"),
    (drop_entry(3), "map.yaml: placements: blocks missing for layer 'fc' replica 0: they cover 0 of its 112x10 weights"),
    (set_entry(3, core="three"), "map.yaml: placements[3].core: Input should be a valid integer"),
    (set_entry(3, colour="red"), "map.yaml: placements[3].colour: Extra inputs are not permitted"),
    (lambda doc: doc.update(chip="other64"), "map.yaml: chip: mapping was made for chip 'other64', not 'hermes64'"),
    (lambda doc: doc["replication"].update(conv7=2), "map.yaml: replication.conv7: unknown layer 'conv7'"),
    (lambda doc: doc["replication"].update(fc=0), "map.yaml: replication.fc: expected at least 1 copy, got 0"),
    (lambda doc: doc["replication"].update(fc=2), "map.yaml: placements: blocks missing for layer 'fc' replica 1"),
    (lambda doc: doc.pop("placements"), "map.yaml: placements: Field required"),
])
def test_mistakes_are_named_by_file_and_entry(tmp_path, chip, edit, message):
    path = write_edited(tmp_path, chip, edit)
    with pytest.raises(MappingError) as err:
        Mapping.from_yaml(path, chip, LAYERS)
    assert str(err.value).startswith(message)


def test_unreadable_files_are_errors_not_tracebacks(tmp_path, chip):
    with pytest.raises(MappingError, match="missing.yaml: cannot read mapping file"):
        Mapping.from_yaml(tmp_path / "missing.yaml", chip, LAYERS)
    bad = tmp_path / "bad.yaml"
    bad.write_text("chip: [unclosed\n")
    with pytest.raises(MappingError, match="bad.yaml: line 2 not valid YAML"):
        Mapping.from_yaml(bad, chip, LAYERS)
    bad.write_text("- just a list\n")
    with pytest.raises(MappingError, match="bad.yaml: expected a mapping with chip"):
        Mapping.from_yaml(bad, chip, LAYERS)
