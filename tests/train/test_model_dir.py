"""train.model_dir: the one owner of the model directory's files, written by fit and read by convert."""
from __future__ import annotations

import numpy as np
import pytest

from edge_agent.scoring.scaler import ScalerParams
from edge_agent.scoring.scores import ScoreTable, alarm_series
from train import model_dir


class FakeModel:
    """Stands in for a keras.Model: only ``save`` is called when writing."""

    def save(self, path):
        path.write_bytes(b"keras zip")


def _write(out, draw_plots=None):
    stamps = np.arange(4).astype("datetime64[s]")
    scores = alarm_series(stamps, np.array([0.1, 2.0, 2.0]), 1.0, 2, np.array(["train"] * 2 + ["test"] * 2))
    scaler = ScalerParams(("a", "b"), (0.0, 1.0), (1.0, 3.0), (1.0, 0.5), (0.0, -0.5))
    return model_dir.write_model_dir(out, model=FakeModel(), scaler=scaler, threshold={"value": 1.0, "debounce": 2},
                                     scores=scores, metadata={"seed": 0}, history={"loss": [0.5, 0.25]},
                                     draw_plots=draw_plots)


def test_writes_every_file_under_its_one_name(tmp_path):
    def draw(folder):
        (folder / "loss.png").write_bytes(b"png")
    out = _write(tmp_path / "m", draw)
    assert sorted(p.name for p in out.iterdir()) == sorted([*model_dir.FILES, model_dir.HISTORY, model_dir.PLOTS])
    assert model_dir.is_model_dir(out) and not model_dir.is_model_dir(tmp_path)
    assert model_dir.read_json(out, model_dir.THRESHOLD) == {"value": 1.0, "debounce": 2}
    assert (out / model_dir.HISTORY).read_text() == "epoch,loss\n1,0.5\n2,0.25\n"
    assert model_dir.plot_names(out) == ["loss.png"]
    scores = model_dir.read_scores(out)
    assert isinstance(scores, ScoreTable) and scores.split.tolist() == ["train", "train", "test", "test"]
    assert scores.alarm.tolist() == [False, False, False, True]


def test_no_plots_folder_without_plots(tmp_path):
    out = _write(tmp_path / "m")
    assert not (out / model_dir.PLOTS).exists() and model_dir.plot_names(out) == []


def test_a_failed_write_leaves_the_earlier_directory(tmp_path):
    out = _write(tmp_path / "m")
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def broken(folder):
        raise RuntimeError("matplotlib fell over")
    with pytest.raises(RuntimeError, match="fell over"):
        _write(out, broken)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # no staging folder left


def test_reading_a_folder_that_is_not_a_model_directory_says_so(tmp_path):
    with pytest.raises(model_dir.ModelDirError, match=r"not a model directory \(no metadata\.json\); run "
                                                      r"'bearing-train fit' first"):
        model_dir.read_json(tmp_path, model_dir.METADATA)
    (tmp_path / model_dir.METADATA).write_text("{oops")
    with pytest.raises(model_dir.ModelDirError, match=r"metadata\.json: not valid JSON"):
        model_dir.read_json(tmp_path, model_dir.METADATA)
    with pytest.raises(model_dir.ModelDirError, match=r"not a complete model directory, missing "
                                                      r"\['model\.keras', 'scaler\.json', 'threshold\.json'\]"):
        model_dir.read_model_dir(tmp_path)
