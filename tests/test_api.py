"""The Python API: the README's example runs as written, and the API agrees with the commands."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

import chipsim

ROOT = Path(__file__).resolve().parents[1]


def test_the_readme_example_runs_as_written(monkeypatch, capsys):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    example = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    assert "from chipsim." not in example  # top-level names only
    monkeypatch.chdir(ROOT)
    exec(compile(example, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "inferences/s" in out and "outputs equal to the accuracy path: True" in out
    assert (ROOT / "reports/api-example/index.html").is_file()


def test_public_names_are_documented_and_typed():
    for name in chipsim.__all__:
        obj = getattr(chipsim, name)
        assert obj.__doc__, name
    assert issubclass(chipsim.DataError, chipsim.ChipsimError)
    with pytest.raises(AttributeError):
        chipsim.no_such_name  # noqa: B018


def test_api_equals_the_bundled_mapping_and_raises_the_cli_errors():
    chip = chipsim.load_chip("hermes64")
    graph = chipsim.load_graph(ROOT / "workloads/digits_mlp/mlp.onnx")
    bundled = chipsim.load_mapping(ROOT / "mappings/digits_mlp/mlp-sequential.yaml", chip, graph)
    mapping = chipsim.map_network(graph, chip, "sequential")
    assert [p.block for p in mapping.placements] == [p.block for p in bundled.placements]
    with pytest.warns(UserWarning, match="uncalibrated chip"):
        chipsim.accuracy(graph, mapping, chip, data="digits", images=20, seeds=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = chipsim.accuracy(graph, bundled, chip, data="digits", images=20, seeds=1)
    assert 0.5 < result.rows[0].accuracy_mean <= 1.0
    with pytest.raises(chipsim.MappingError, match="unknown strategy"):
        chipsim.map_network(graph, chip, "nope")
    with pytest.raises(chipsim.DataError, match="unknown data set"):
        chipsim.calibrate(graph, mapping, chip, data="cifar")
    with pytest.raises(chipsim.DataError):
        chipsim.simulate(graph, bundled, chip, inputs=np.full((2, 64), np.nan, np.float32))
