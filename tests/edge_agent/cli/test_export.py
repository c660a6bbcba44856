"""``bearing-agent export``: the journal's features as a CSV, what it prints, and refusals."""
from __future__ import annotations

import pytest

from tests.support.memory_bound import bound_mib

from edge_agent.cli import main as cli


def test_export_writes_the_table_and_says_what_it_left_out(scored_journal, tmp_path, capsys):
    out_csv = tmp_path / "f.csv"
    assert cli.main(["export", "--journal", str(scored_journal), "-o", str(out_csv)]) == 0
    lines = out_csv.read_text().splitlines()
    assert lines[0] == "timestamp,x,y" and len(lines) == 4
    assert lines[2] == "2023-11-14 22:23:20,0.1,0.2"
    out = capsys.readouterr().out
    assert "shared a second" in out
    assert f"train with 'bearing-train fit {out_csv} --sample-rate 20000" in out


def test_nothing_to_export_exits_1_and_writes_nothing(scored_journal, tmp_path, capsys):
    out_csv = tmp_path / "f.csv"
    assert cli.main(["export", "--journal", str(scored_journal), "--device", "other", "-o", str(out_csv)]) == 1
    assert "bearing-agent export: error: no recorded snapshots match" in capsys.readouterr().err
    assert not out_csv.exists()


def test_a_bad_date_is_a_usage_error(scored_journal, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["export", "--journal", str(scored_journal), "--since", "15.02.2004", "-o", str(tmp_path / "f")])
    assert exit_.value.code == 2
    assert "argument --since: '15.02.2004' is not a time: use YYYY-MM-DD" in capsys.readouterr().err


def _refused(args: list[str], capsys) -> str:
    assert cli.main(["export", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bearing-agent export: error: -") and "Traceback" not in err
    return err


def test_only_a_regular_file_in_an_existing_directory_is_written(scored_journal, tmp_path, capsys):
    """Issue 21 #20: a device node, a symbolic link, a directory, a missing directory, a name too long."""
    import os
    import stat

    journal = ["--journal", str(scored_journal)]
    device = tmp_path / "full"
    os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 7))  # what /dev/full is; root replaced it with a CSV
    assert "is a device or other special file" in _refused([*journal, "-o", str(device)], capsys)
    assert stat.S_ISCHR(os.lstat(device).st_mode)
    target = tmp_path / "precious.txt"
    target.write_text("keep me\n")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    assert "is a symbolic link" in _refused([*journal, "-o", str(link)], capsys)
    assert link.is_symlink() and target.read_text() == "keep me\n"
    assert "is a directory" in _refused([*journal, "-o", str(tmp_path)], capsys)
    missing = tmp_path / "no" / "such" / "f.csv"
    assert f"the directory {missing.parent} does not exist; create it first" in _refused([*journal, "-o", str(missing)],
                                                                                        capsys)
    assert not (tmp_path / "no").exists()
    assert "File name too long" in _refused([*journal, "-o", str(tmp_path / ("x" * 300))], capsys)
    assert "is a symbolic link" in _refused([*journal, "-o", "/dev/stdout"], capsys)  # says: use -o -
    assert "--scores" in _refused([*journal, "-o", str(tmp_path / "a.csv"), "--scores", str(tmp_path / "a.csv")],
                                  capsys) and not (tmp_path / "a.csv").exists()


def test_dash_writes_the_table_to_standard_output(scored_journal, capsys):
    assert cli.main(["export", "--journal", str(scored_journal), "-o", "-"]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[:2] == ["timestamp,x,y", "2023-11-14 22:13:20,0.0,0.2"]
    assert "wrote 3 snapshots" in captured.err and "wrote" not in captured.out


def test_a_year_of_journal_is_streamed_not_held_in_memory(tmp_path):
    """Issue 21 #21: export held every row as a dict: 195 MiB for 100,000 rows, 1 GB for a year's 500,000."""
    import subprocess
    import sys
    from pathlib import Path

    from benchmarks.bench_web import fill_journal

    journal = tmp_path / "journal.sqlite"
    fill_journal(journal, 50_000)
    script = ("import sys; from edge_agent.cli import main as cli; "
              "rc = cli.main(['export', '--journal', sys.argv[1], '-o', sys.argv[2], '--scores', sys.argv[3]]); "
              "print(rc, next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1])")
    repo = Path(__file__).resolve().parents[3]
    done = subprocess.run([sys.executable, "-c", script, str(journal), str(tmp_path / "f.csv"), str(tmp_path / "s.csv")],
                          capture_output=True, text=True, cwd=repo, timeout=300)
    rc, peak_kib = done.stdout.split()[-2:]
    print(f"export of 50,000 rows: peak RSS {int(peak_kib) / 1024:.1f} MiB")
    assert rc == "0" and len((tmp_path / "f.csv").read_text().splitlines()) == 50_001
    assert int(peak_kib) / 1024 <= bound_mib(64)  # streamed: about 39 MiB whatever the rows (held: 195 MiB for 100,000)
