"""One writer per results store: a second run on the same store is refused while the first holds its lock
(released by the kernel when the holder dies, even by SIGKILL); a corrupt store is one line, exit 2."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from perturbx.cli import main
from perturbx.errors import PerturbxError
from perturbx.experiments.store import Store

CONFIG = ("dataset: {kind: bundled, images: [chelsea], size: 32}\nmodel: synthetic_cnn\nexplainers: {s: saliency}\n"
          "metrics: [{name: deletion, step: 256}]\n")

HOLD = """
import fcntl, os, sys, time
handle = os.open(sys.argv[1] + ".lock", os.O_RDWR | os.O_CREAT)
fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)  # what Store does, without importing torch (fast)
os.ftruncate(handle, 0)
os.write(handle, str(os.getpid()).encode())
print("locked", flush=True)
time.sleep(60)
"""


def test_a_second_writer_is_refused_until_the_first_is_gone(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "results.sqlite"
    first = Store(path, "h", "config")
    with pytest.raises(PerturbxError, match=r"--out: another run \(pid \d+\) is writing to"):
        Store(path, "h", "config", resume=True)
    first.close()
    Store(path, "h", "config", resume=True).close()

    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    with pytest.raises(PerturbxError, match=f"another run \\(pid {holder.pid}\\)"):
        Store(path, "h", "config", resume=True)
    with pytest.raises(PerturbxError, match="another run"):
        Store(path, "h", "config", overwrite=True)  # --overwrite never deletes a store in use
    config = tmp_path / "e.yaml"
    config.write_text(CONFIG)
    assert main(["evaluate", "--config", str(config), "--out", str(tmp_path), "--resume", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"another run (pid {holder.pid}) is writing to" in err[0], err
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    deadline = time.monotonic() + 5
    while True:  # the kernel drops a dead process's lock at once; allow a moment for the reaping
        try:
            Store(path, "h", "config", resume=True).close()
            break
        except PerturbxError:
            assert time.monotonic() < deadline
            time.sleep(0.05)


def test_a_corrupt_store_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    config = tmp_path / "e.yaml"
    config.write_text(CONFIG)
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.sqlite").write_bytes(b"SQLite format 3\x00" + b"\x07" * 300)
    assert main(["evaluate", "--config", str(config), "--out", str(out), "--resume", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not a readable results store" in err[0] and "--overwrite" in err[0], err
    (out / "results.sqlite").write_text("just text")
    assert main(["evaluate", "--config", str(config), "--out", str(out), "--resume", "--quiet"]) == 2
    assert "is not a readable results store" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert main(["evaluate", "--config", str(config), "--out", str(tmp_path / "file" / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--out: cannot write in" in err[0], err
