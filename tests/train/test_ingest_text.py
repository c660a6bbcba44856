"""bearing-train ingest of another rig's text recordings: PRONOSTIA's CSV bursts, archives, the true rate in the spec."""
from __future__ import annotations

import io
import json
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pandas", reason="desktop test: a Pi has no pandas (.ci/arm-edge.sh)")

from edge_agent.features.registry import compute
from edge_agent.features.table import read_feature_table
from firmware_io.recordings.pronostia import PRONOSTIA_MISSING, PRONOSTIA_READ_OPTIONS, pronostia_archive
from firmware_io.recordings.reader import RecordingError
from firmware_io.recordings.sources import ReadOptions
from train.cli import main as cli_main
from train.ingest import ingest, read_table_spec, table_spec_path

RATE = 25_600
LENGTH = 256


def burst(k: int, rng: np.random.Generator, length: int = LENGTH) -> np.ndarray:
    """A 2-channel burst with 3-decimal values, as PRONOSTIA writes them."""
    return np.round(rng.normal(0, 0.3 + 0.01 * k, size=(length, 2)), 3)


def pronostia_csv(values: np.ndarray, hms: tuple[int, int, int]) -> str:
    h, m, s = hms
    return "".join(f"{h},{m},{s},{8.8441e5 + 39 * i:.5g},{a:g},{b:g}\n" for i, (a, b) in enumerate(values))


def write_run(folder: Path, n: int = 4, start=(8, 14, 15), length: int = LENGTH) -> list[np.ndarray]:
    """``n`` bursts 10 s apart as acc_NNNNN.csv, with a temperature file of another layout beside them."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    bursts = []
    h, m, s = start
    for k in range(n):
        t = h * 3600 + m * 60 + s + 10 * k
        values = burst(k, rng, length)
        (folder / f"acc_{k + 1:05d}.csv").write_text(pronostia_csv(values, (t // 3600 % 24, t // 60 % 60, t % 60)))
        bursts.append(values)
    (folder / "temp_00001.csv").write_text("08;15;52;3;69.054\n08;15;52;4;69.054\n")
    return bursts


def options(**kw) -> ReadOptions:
    base = dict(sample_rate_hz=RATE, snapshot_length=LENGTH, pattern="acc_*.csv", time_columns=("1", "2", "3", "4"))
    return ReadOptions(**{**base, **kw})


def test_pronostia_folder_gives_features_at_the_true_rate_and_the_spec_says_so(tmp_path):
    bursts = write_run(tmp_path / "Bearing1_1")
    out = tmp_path / "f.csv"
    result = ingest([tmp_path / "Bearing1_1"], out, progress=False, options=options(),
                    features=["mean_abs", "rms"], names=["horizontal", "vertical"])
    table = read_feature_table(out)
    assert [str(t) for t in table.timestamps] == ["1970-01-01T08:14:15", "1970-01-01T08:14:25",
                                                  "1970-01-01T08:14:35", "1970-01-01T08:14:45"]
    spec = read_table_spec(out)
    assert (spec.sample_rate_hz, spec.samples_per_snapshot) == (RATE, LENGTH) == \
        (result.spec.sample_rate_hz, result.spec.samples_per_snapshot)
    assert spec.channel_names == ("horizontal", "vertical")
    for row, values in zip(table.values, bursts):
        np.testing.assert_allclose(row[:2], np.abs(values).mean(axis=0), rtol=1e-12)
        np.testing.assert_allclose(row[2:], np.sqrt(np.square(values).mean(axis=0)), rtol=1e-12)


def test_envelope_features_are_computed_at_the_stated_rate(tmp_path):
    write_run(tmp_path / "run", n=2, length=2560)  # PRONOSTIA's burst: 256 samples are too short for BPFO
    condition_args = ["--features", "env_bpfo_ptm", "--bearing", "13,3.5,25.6,0", "--shaft-rpm", "1800"]
    tables = {}
    for rate in (25600, 20000):
        out = tmp_path / f"{rate}.csv"
        assert cli_main(["ingest", "-q", str(tmp_path / "run"), "-o", str(out), "--sample-rate", str(rate),
                         "--time-columns", "1,2,3,4", "--pattern", "acc_*.csv", *condition_args]) == 0
        tables[rate] = read_feature_table(out).values
        spec = read_table_spec(out)
        assert spec.sample_rate_hz == rate
        first = np.loadtxt(tmp_path / "run" / "acc_00001.csv", delimiter=",")[:, 4:]
        np.testing.assert_allclose(tables[rate][0], compute(spec, first), rtol=1e-12)
    assert not np.array_equal(tables[25600], tables[20000])  # the rate is not decoration


def test_archives_are_read_without_unpacking_and_equal_the_folder(tmp_path):
    write_run(tmp_path / "Learning_set" / "Bearing2_1", n=3)
    tar = tmp_path / "run.tar.xz"
    with tarfile.open(tar, "w:xz") as archive:
        archive.add(tmp_path / "Learning_set", arcname="Learning_set")
    zipped = tmp_path / "run.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        for p in sorted((tmp_path / "Learning_set").rglob("*.csv")):
            archive.write(p, p.relative_to(tmp_path).as_posix())
    backwards = tmp_path / "backwards.tar.gz"  # members not in name order: held and sorted
    with tarfile.open(backwards, "w:gz") as archive:
        for p in sorted((tmp_path / "Learning_set").rglob("*.csv"), reverse=True):
            archive.add(p, p.relative_to(tmp_path).as_posix())
    folder = ingest([tmp_path / "Learning_set"], progress=False, options=options()).table
    for source in (tar, zipped, backwards):
        table = ingest([source], progress=False, options=options()).table
        assert (table.timestamps == folder.timestamps).all() and (table.values == folder.values).all()


def test_cli_prints_the_rate_and_writes_the_spec(tmp_path, capsys):
    write_run(tmp_path / "run", n=2)
    out = tmp_path / "f.csv"
    code = cli_main(["ingest", "-q", str(tmp_path / "run"), "-o", str(out), "--sample-rate", "25600",
                     "--snapshot-length", str(LENGTH), "--time-columns", "1,2,3,4", "--pattern", "acc_*.csv"])
    stdout = capsys.readouterr().out
    assert code == 0 and f"{LENGTH} samples at 25600 Hz" in stdout and "2 snapshots" in stdout
    assert json.loads(table_spec_path(out).read_text())["sample_rate_hz"] == 25600


def test_other_rigs_recordings_need_their_rate(tmp_path, capsys):
    write_run(tmp_path / "run", n=1)
    code = cli_main(["ingest", "-q", str(tmp_path / "run"), "-o", str(tmp_path / "f.csv"),
                     "--time-columns", "1,2,3,4", "--pattern", "acc_*.csv"])
    err = capsys.readouterr().err
    assert code == 2 and "--sample-rate HZ" in err and "Traceback" not in err


def test_a_snapshot_time_must_come_from_somewhere(tmp_path):
    write_run(tmp_path / "run", n=2)
    with pytest.raises(RecordingError, match="acc_00002.csv: the snapshot's time is unknown.*--time-columns"):
        ingest([tmp_path / "run"], progress=False, options=options(time_columns=None))
    table = ingest([tmp_path / "run"], progress=False,
                   options=options(time_columns=None, interval_s=10.0, start=np.datetime64("2012-03-01T08:00"))).table
    assert [str(t) for t in table.timestamps] == ["2012-03-01T08:00:00", "2012-03-01T08:00:10"]


def test_a_clock_running_back_names_both_files_and_skip_bad_leaves_it_out(tmp_path, capsys):
    bursts = write_run(tmp_path / "run", n=4)
    glitched = tmp_path / "run" / "acc_00003.csv"
    glitched.write_text(pronostia_csv(bursts[2], (8, 10, 0)))  # 4 minutes back
    with pytest.raises(RecordingError, match=r"acc_00003.csv: its time 08:10:00.* before .*acc_00002.csv"):
        ingest([tmp_path / "run"], progress=False, options=options())
    skipped = []
    table = ingest([tmp_path / "run"], progress=False, options=options(skip_bad=True),
                   on_skip=lambda p, why: skipped.append((str(p), why))).table
    assert len(table) == 3 and [p for p, _ in skipped] == [str(glitched)]


def test_midnight_passes_into_the_next_day(tmp_path):
    write_run(tmp_path / "run", n=3, start=(23, 59, 50))
    table = ingest([tmp_path / "run"], progress=False, options=options(start=np.datetime64("2012-03-01"))).table
    assert [str(t) for t in table.timestamps] == ["2012-03-01T23:59:50", "2012-03-02T00:00:00",
                                                  "2012-03-02T00:00:10"]


def test_a_short_burst_and_a_file_of_another_layout_are_named(tmp_path):
    bursts = write_run(tmp_path / "run", n=2)
    (tmp_path / "run" / "acc_00002.csv").write_text(pronostia_csv(bursts[1][:100], (8, 14, 25)))
    with pytest.raises(RecordingError, match="acc_00002.csv: has 100 rows, fewer than --snapshot-length 256"):
        ingest([tmp_path / "run"], progress=False, options=options())
    write_run(tmp_path / "run2", n=1)
    with pytest.raises(RecordingError, match=r"temp_00001.csv: has 1 channels, but .*acc_00001.csv has 2.*--pattern"):
        ingest([tmp_path / "run2"], progress=False, options=options(pattern="*.csv"))


def test_headers_name_columns_and_tab_separated_files_read_alike(tmp_path):
    rng = np.random.default_rng(1)
    values = np.round(rng.normal(size=(LENGTH, 3)), 4)
    folder = tmp_path / "logger"
    folder.mkdir()
    body = "".join(f"{i / RATE:.6f}\t{a}\t{b}\t{c}\n" for i, (a, b, c) in enumerate(values))
    (folder / "shot_1.tsv").write_text("time\tax\tay\taz\n" + body)
    table = ingest([folder], progress=False, options=ReadOptions(sample_rate_hz=RATE, columns=("ay", "az"),
                                                                  interval_s=60.0)).table
    assert table.channel_names == ["ay", "az"]
    np.testing.assert_allclose(table.values[0], np.abs(values[:, 1:]).mean(axis=0), rtol=1e-12)
    with pytest.raises(RecordingError, match="--columns 'bz' is not a column number .* header names"):
        ingest([folder], progress=False, options=ReadOptions(sample_rate_hz=RATE, columns=("bz",), interval_s=60.0))


@pytest.mark.parametrize("bearing,n_bursts", [("2_1", 911)])
def test_real_pronostia_archive_ingests_at_25600_hz(bearing, n_bursts, tmp_path):
    archive = pronostia_archive(bearing)
    if archive is None:
        pytest.skip(PRONOSTIA_MISSING)
    out = tmp_path / "f.csv"
    result = ingest([archive], out, progress=False, options=PRONOSTIA_READ_OPTIONS)
    assert len(result.table) == n_bursts and result.n_files == n_bursts
    assert (np.diff(result.table.timestamps) == np.timedelta64(10, "s")).mean() > 0.99
    with tarfile.open(archive) as tar:
        member = next(m for m in tar if m.name.endswith("acc_00001.csv"))
        first = np.loadtxt(io.BytesIO(tar.extractfile(member).read()), delimiter=",")
    np.testing.assert_allclose(result.table.values[0], np.abs(first[:, 4:]).mean(axis=0), rtol=1e-12)
    assert read_table_spec(out).sample_rate_hz == 25_600 and read_table_spec(out).samples_per_snapshot == 2_560
    # the original CSV files give the same table as a hand-made npz of the same bursts at the true rate
    # (so a model trained on either is the same model)
    from firmware_io.recordings.sources import iter_recording_snapshots, iter_source_files

    bursts = [r.snapshot.physical() for r in iter_recording_snapshots(
        iter_source_files([archive], PRONOSTIA_READ_OPTIONS.pattern), PRONOSTIA_READ_OPTIONS)]
    hand_made = tmp_path / "hand_made.npz"
    np.savez(hand_made, samples=np.stack(bursts), sample_rate_hz=np.float64(25_600),
             timestamps=result.table.timestamps.astype("datetime64[us]"))
    packed = ingest([hand_made], tmp_path / "g.csv", progress=False)
    assert (packed.table.timestamps == result.table.timestamps).all()
    assert (packed.table.values == result.table.values).all()
    assert packed.spec == result.spec


def test_fit_refuses_a_rate_or_length_that_disagrees_with_the_tables_spec(tmp_path, capsys):
    write_run(tmp_path / "run", n=3)
    table = tmp_path / "f.csv"
    ingest([tmp_path / "run"], table, progress=False, options=options())
    for option, value, stated in (("--sample-rate", "20000", "25600 Hz"), ("--snapshot-length", "20480", "256 samples")):
        code = cli_main(["fit", str(table), "--out", str(tmp_path / "model"), "--train-until", "1970-01-01 08:14:35",
                         option, value, "--no-plots"])
        err = capsys.readouterr().err
        assert code == 2 and f"{option} {value} disagrees with the table's spec" in err and stated in err, err
        assert not (tmp_path / "model").exists()


def test_renamed_csv_files_are_read_once_their_length_is_given(tmp_path, capsys):
    """A logger writing IMS-style names but commas and 256 rows: refused as IMS, read as what the user says."""
    bursts = write_run(tmp_path / "src", n=2)
    folder = tmp_path / "renamed"
    folder.mkdir()
    for k, values in enumerate(bursts):
        text = "".join(f"{a:g},{b:g}\n" for a, b in values)
        (folder / f"2024.05.01.08.0{k}.00").write_text(text)
    code = cli_main(["ingest", "-q", str(folder), "-o", str(tmp_path / "f.csv")])
    err = capsys.readouterr().err
    assert code == 2 and "not a valid snapshot file" in err and "--snapshot-length" in err
    code = cli_main(["ingest", "-q", str(folder), "-o", str(tmp_path / "f.csv"), "--sample-rate", "25600",
                     "--snapshot-length", str(LENGTH)])
    assert code == 0, capsys.readouterr().err
    table = read_feature_table(tmp_path / "f.csv")
    assert [str(t) for t in table.timestamps] == ["2024-05-01T08:00:00", "2024-05-01T08:01:00"]
    np.testing.assert_allclose(table.values, [np.abs(v).mean(axis=0) for v in bursts], rtol=1e-12)


def test_the_time_in_a_file_name_is_read_in_the_users_format(tmp_path, capsys):
    bursts = write_run(tmp_path / "src", n=2)
    folder = tmp_path / "logger"
    folder.mkdir()
    for values, stamp in zip(bursts, ("20240501_080000", "20240501_081500")):
        (folder / f"acc_{stamp}.csv").write_text("".join(f"{a:g},{b:g}\n" for a, b in values))
    assert cli_main(["ingest", "-q", str(folder), "-o", str(tmp_path / "f.csv"), "--sample-rate", "25600",
                     "--name-time", "%Y%m%d_%H%M%S"]) == 0
    assert [str(t) for t in read_feature_table(tmp_path / "f.csv").timestamps] == [
        "2024-05-01T08:00:00", "2024-05-01T08:15:00"]
    (folder / "acc_notes.csv").write_text("0.1,0.2\n" * LENGTH)
    code = cli_main(["ingest", "-q", str(folder), "-o", str(tmp_path / "f.csv"), "--sample-rate", "25600",
                     "--name-time", "%Y%m%d_%H%M%S"])
    assert code == 2 and "acc_notes.csv: no time in the format --name-time '%Y%m%d_%H%M%S'" in capsys.readouterr().err


def test_default_bearing_features_that_cannot_be_read_are_left_out_with_the_reason(tmp_path, capsys):
    write_run(tmp_path / "run", n=2, length=2560)
    out = tmp_path / "f.csv"
    assert cli_main(["ingest", "-q", str(tmp_path / "run"), "-o", str(out), "--sample-rate", "25600",
                     "--time-columns", "1,2,3,4", "--pattern", "acc_*.csv", "--bearing", "13,3.5,25.6,0",
                     "--shaft-rpm", "1800"]) == 0
    err = capsys.readouterr().err
    assert "left out env_ftf_ptm" in err and "12.9 Hz needs 3 cycles" in err
    assert read_table_spec(out).features == ("mean_abs", "env_bpfo_ptm", "env_bpfi_ptm", "env_bsf_ptm")
    code = cli_main(["ingest", "-q", str(tmp_path / "run"), "-o", str(out), "--sample-rate", "25600",
                     "--time-columns", "1,2,3,4", "--pattern", "acc_*.csv", "--bearing", "13,3.5,25.6,0",
                     "--shaft-rpm", "1800", "--features", "env_ftf_ptm"])  # asked for by name: refused, not dropped
    assert code == 2 and "env_ftf_ptm cannot be read" in capsys.readouterr().err


def test_a_truncated_archive_is_named(tmp_path):
    write_run(tmp_path / "run", n=3)
    tar = tmp_path / "run.tar.xz"
    with tarfile.open(tar, "w:xz") as archive:
        archive.add(tmp_path / "run", arcname="run")
    cut = tmp_path / "cut.tar.xz"
    cut.write_bytes(tar.read_bytes()[: tar.stat().st_size // 2])
    with pytest.raises(RecordingError, match="cut.tar.xz: archive is damaged or truncated"):
        ingest([cut], progress=False, options=options())
