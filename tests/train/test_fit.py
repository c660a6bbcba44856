"""bearing-train fit on the real IMS test-2 table, with few epochs (the full default runs in tests/e2e/test_demo.py)."""
from __future__ import annotations

import csv
import hashlib
import json
import os
import stat

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="desktop test: a Pi has no TensorFlow (.ci/arm-edge.sh)")

from edge_agent.scoring.detection import debounce, make_windows, reconstruction_error
from edge_agent.features.table import parse_timestamp, read_feature_table
from edge_agent.features.spec import FeatureSpec
from edge_agent.scoring.judge import judge_series
from edge_agent.scoring.levels import Decision
from edge_agent.scoring.scaler import ScalerParams
from edge_agent.scoring.scores import alarm_series
from firmware_io.recordings import ims as datasets
from train.cli import main as cli_main
from train.fit import fit_model_dir
from train.plots import PLOT_FILES

UNTIL = datasets.TEST2_TRAIN_UNTIL
TABLE = datasets.FEATURES_TEST2


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    out = tmp_path_factory.mktemp("fit") / "model"
    return fit_model_dir(TABLE, out, UNTIL, seed=0, epochs=3)


def read_scores(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_model_directory_has_every_file(fitted):
    d = fitted.out
    for name in ("model.keras", "scaler.json", "threshold.json", "scores.csv", "metadata.json"):
        assert (d / name).is_file(), name
    for name in PLOT_FILES.values():
        png = (d / "plots" / name).read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 10_000, name
    assert not [p for p in d.parent.iterdir() if p.name.startswith(".model")]  # no staging left


def test_model_directory_is_readable_by_others_like_any_new_file(fitted):
    """Not mkdtemp's 0700 / mkstemp's 0600: the folder is shared and copied to the Pi."""
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(fitted.out.stat().st_mode) == 0o755
    for path in fitted.out.rglob("*"):
        expected = (0o777 if path.is_dir() else 0o666) & ~umask
        assert stat.S_IMODE(path.stat().st_mode) == expected, path


def test_scaler_is_fitted_on_the_healthy_period_only(fitted):
    table = read_feature_table(TABLE)
    healthy = table.timestamps <= parse_timestamp(UNTIL)
    params = ScalerParams.load(fitted.out / "scaler.json")
    assert params.data_max == tuple(table.values[healthy].max(axis=0))
    assert params.data_min == tuple(table.values[healthy].min(axis=0))
    assert all(params.data_max[j] < table.values[:, j].max() for j in range(4))  # the failure is outside


def test_scores_are_the_saved_model_on_every_snapshot(fitted):
    import keras

    rows = read_scores(fitted.out / "scores.csv")
    table = read_feature_table(TABLE)
    assert len(rows) == 984 and list(rows[0]) == ["timestamp", "error", "over_threshold", "alarm", "state", "level",
                                                  "split"]
    assert [r["split"] for r in rows].count("train") == 424
    assert [r["split"] for r in rows].count("validation") == 23  # Keras's last 5 % of 447 healthy
    assert [r["split"] for r in rows].count("test") == 537
    assert rows[446]["timestamp"] == UNTIL and rows[446]["split"] == "validation"
    model = keras.models.load_model(fitted.out / "model.keras")
    X = ScalerParams.load(fitted.out / "scaler.json").transform(table.values)
    w = make_windows(X, 1).astype(np.float32)
    err = reconstruction_error(w, np.asarray(model(w, training=False)))
    np.testing.assert_allclose([float(r["error"]) for r in rows], err, rtol=1e-5, atol=1e-7)
    thr = json.loads((fitted.out / "threshold.json").read_text())
    over = np.array([float(r["error"]) > thr["value"] for r in rows])
    assert over.tolist() == [r["over_threshold"] == "1" for r in rows]
    # the alarm is the level (issue 20): novel AND significant over the baseline that threshold.json keeps,
    # judged as the device judges it; the alarm column is 1 exactly at alert or danger
    decision = Decision.from_threshold(thr, decision_spec(fitted))
    state, level = judge_series(decision_spec(fitted), decision, thr["debounce"], table.timestamps, table.values, over)
    assert level.tolist() == [r["level"] for r in rows] and state.tolist() == [r["state"] for r in rows]
    assert [r["alarm"] == "1" for r in rows] == [r["level"] in ("alert", "danger") for r in rows]
    assert "alert" in level.tolist() and (state == "running").sum() > 900


def test_threshold_and_metadata_describe_the_fit(fitted):
    thr = json.loads((fitted.out / "threshold.json").read_text())
    assert thr["rule"] == "sustained-max" and thr["debounce"] == 3
    assert thr["value"] == pytest.approx(1.2 * thr["params"]["sustained_max"])
    meta = json.loads((fitted.out / "metadata.json").read_text())
    assert meta["data"]["sha256"] == hashlib.sha256(TABLE.read_bytes()).hexdigest()
    assert meta["split"] == {"train_until": UNTIL, "n_healthy_snapshots": 447, "n_train": 424,
                             "n_validation": 23, "n_test": 537, "excluded": [], "n_excluded_snapshots": 0}
    # 447 healthy snapshots over 3 days is enough; 3 epochs do not learn to reconstruct (train.reconstruction)
    assert [w for w in meta["warnings"] if "did not learn" not in w] == []
    assert meta["seed"] == 0 and meta["timesteps"] == 1 and meta["training"]["epochs"] == 3
    assert meta["training"]["n_parameters"] == 1344 + 336 + 144 + 1344 + 68
    assert FeatureSpec.from_dict(meta["feature_spec"]).channel_names == tuple(f"Bearing {i}" for i in range(1, 5))
    assert {"keras", "scikit-learn", "numpy", "python"} <= set(meta["versions"])
    assert {"tensorflow", "tensorflow-cpu"} & set(meta["versions"])  # whichever wheel is installed
    assert meta["training_seconds"] > 0


@pytest.mark.slow
def test_same_seed_same_model(fitted, tmp_path):
    again = fit_model_dir(TABLE, tmp_path / "again", UNTIL, seed=0, epochs=3, make_plots=False)
    assert (again.scores.error == fitted.scores.error).all()
    assert again.threshold_value == fitted.threshold_value
    other = fit_model_dir(TABLE, tmp_path / "other", UNTIL, seed=1, epochs=3, make_plots=False)
    assert not (other.scores.error == fitted.scores.error).all()


def test_timesteps_windows_leave_the_first_snapshots_unscored(model_fit):
    res = model_fit(3)  # the session's T = 3 fit of this table (tests/conftest.py), shared with the scorer tests
    assert res.metadata["data"]["sha256"] == hashlib.sha256(TABLE.read_bytes()).hexdigest()
    assert res.metadata["split"]["train_until"] == UNTIL
    rows = read_scores(res.out / "scores.csv")
    assert len(rows) == 984
    assert [r["error"] for r in rows[:2]] == ["", ""] and rows[2]["error"] != ""
    assert [(r["over_threshold"], r["alarm"]) for r in rows[:2]] == [("0", "0"), ("0", "0")]
    meta = json.loads((res.out / "metadata.json").read_text())
    assert meta["timesteps"] == 3 and meta["feature_spec"]["timesteps"] == 3
    # 445 healthy windows (447 - 2): Keras trains on floor(445 * 0.95) = 422, validates on 23
    assert (meta["split"]["n_train"], meta["split"]["n_validation"]) == (422, 23)
    # the first T-1 healthy rows end no window but are trained on inside the first ones (issue 21 #28: they were
    # labelled "test", and the summary said 539 after for 537)
    assert [r["split"] for r in rows[:2]] == ["train", "train"] and meta["split"]["n_test"] == 537
    assert np.isnan(res.scores.error[:2]).all() and not np.isnan(res.scores.error[2:]).any()
    # the benchmarks re-threshold saved errors with alarm_series: it must flag exactly what fit flagged
    ts, k = res.scores.timestamps, res.threshold["debounce"]
    over = alarm_series(ts, res.scores.error, res.threshold_value, k).over_threshold
    assert (over == res.scores.over_threshold).all()
    assert not res.scores.alarm[:2].any() and (res.scores.level[:2] == "normal").all()  # unscored rows stay off


def test_cli_fit_with_fixed_threshold_then_report(tmp_path, capsys):
    out = tmp_path / "m"
    code = cli_main(["fit", str(TABLE), "--train-until", UNTIL, "--out", str(out), "--epochs", "2",
                     "--threshold", "0.5", "--debounce", "2", "--no-plots"])
    printed = capsys.readouterr().out
    assert code == 0
    thr = json.loads((out / "threshold.json").read_text())
    assert (thr["value"], thr["rule"], thr["debounce"]) == (0.5, "fixed", 2)
    assert "threshold         0.5 (fixed" in printed and "first alarm" in printed
    assert not (out / "plots").exists()
    assert cli_main(["report", str(out)]) == 0
    assert capsys.readouterr().out.strip() == printed.strip()


@pytest.mark.parametrize("args,match", [
    (["--train-until", "2003-01-01 00:00:00"], "only 0 snapshots"),
    (["--train-until", "2004-02-12 11:12:39"], "only 5 snapshots"),
    (["--train-until", "15.02.2004"], "is not a time"),
    (["--train-until", UNTIL, "--threshold", "-1"], "positive"),
    (["--train-until", UNTIL, "--debounce", "0"], "debounce"),
])
def test_bad_fit_input_exits_2_with_a_clear_message(tmp_path, capsys, args, match):
    code = cli_main(["fit", str(TABLE), "--out", str(tmp_path / "m"), "--epochs", "1", *args])
    err = capsys.readouterr().err
    assert code == 2 and match in err and "Traceback" not in err, err
    assert not (tmp_path / "m").exists()


def test_fit_refuses_to_overwrite_a_folder_that_is_not_a_model(tmp_path, capsys):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "precious.txt").write_text("x")
    code = cli_main(["fit", str(TABLE), "--train-until", UNTIL, "--out", str(tmp_path / "docs")])
    assert code == 2 and "refusing to overwrite" in capsys.readouterr().err
    assert (tmp_path / "docs" / "precious.txt").read_text() == "x"


def test_bad_table_and_report_of_non_model(tmp_path, capsys):
    bad = tmp_path / "t.csv"
    bad.write_text("timestamp,a\n2004-02-12 10:32:39,oops\n")
    assert cli_main(["fit", str(bad), "--train-until", UNTIL, "--out", str(tmp_path / "m")]) == 2
    assert "line 2: non-numeric" in capsys.readouterr().err
    assert cli_main(["report", str(tmp_path)]) == 2
    assert "not a model directory" in capsys.readouterr().err


def test_excluded_period_is_scored_but_not_trained_on(tmp_path):
    """A maintenance window inside the healthy period must not shape the scaler or the threshold."""
    table = read_feature_table(TABLE)
    # Make the excluded period unmistakable: a stopped machine reads near zero.
    values = table.values.copy()
    stop = (table.timestamps >= parse_timestamp("2004-02-13 00:00:00")) & \
           (table.timestamps <= parse_timestamp("2004-02-13 05:59:59"))
    values[stop] = 0.001
    path = tmp_path / "features.csv"
    type(table)(table.timestamps, table.channel_names, values).write(path)

    res = fit_model_dir(path, tmp_path / "model", UNTIL, seed=0, epochs=2, make_plots=False,
                        exclude=[("2004-02-13 00:00:00", "2004-02-13 05:59:59")])
    params = ScalerParams.load(tmp_path / "model" / "scaler.json")
    assert min(params.data_min) > 0.03  # the zeros did not enter the scaler
    split = res.scores.split
    assert (split[stop] == "excluded").all() and stop.sum() == 36
    assert not np.isnan(res.scores.error[stop]).any()  # still scored
    meta = json.loads((tmp_path / "model" / "metadata.json").read_text())
    assert meta["split"]["n_excluded_snapshots"] == 36
    assert meta["split"]["n_train"] + meta["split"]["n_validation"] == 447 - 36


def test_too_little_healthy_data_is_warned_about(tmp_path, capsys):
    until = "2004-02-13 10:32:39"  # one day: 145 snapshots
    assert cli_main(["fit", str(TABLE), "--train-until", until, "--out", str(tmp_path / "m"),
                     "--epochs", "1", "--no-plots"]) == 0
    out = capsys.readouterr().out
    assert "WARNING" in out and "only 145 healthy windows over 24.0 h" in out
    meta = json.loads((tmp_path / "m" / "metadata.json").read_text())
    assert len([w for w in meta["warnings"] if "did not learn" not in w]) == 1  # 1 epoch: collapsed, said too


def test_bad_exclude_period_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli_main(["fit", str(TABLE), "--train-until", UNTIL, "--out", str(tmp_path / "m"),
                  "--exclude", "2004-02-13 00:00:00"])
    assert "is not a period START..END" in capsys.readouterr().err


def decision_spec(fitted) -> FeatureSpec:
    return FeatureSpec.from_dict(json.loads((fitted.out / "metadata.json").read_text())["feature_spec"])
