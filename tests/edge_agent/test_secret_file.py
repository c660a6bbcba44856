"""Secret files (the page's token, the broker password): regular files only, a bounded first line (issue 21 #23)."""
from __future__ import annotations

import logging
import os

import pytest

from edge_agent.config import MqttSection
from edge_agent.secret_file import MAX_BYTES, SecretFileError, read_secret
from edge_agent.telemetry.broker import BrokerSettings, BrokerSetupError
from edge_agent.web.server import read_token

TOKEN = "a-test-token-of-24-chars"


def secret(tmp_path, text: str, mode: int = 0o600):
    path = tmp_path / "secret"
    path.write_text(text)
    path.chmod(mode)
    return path


def test_the_first_line_of_a_private_regular_file_is_the_secret(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        assert read_secret(str(secret(tmp_path, TOKEN + "\r\nsecond line\n")), "[web] token_file") == TOKEN
    assert not caplog.records


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/null"])
def test_a_device_is_refused_without_reading_it(device):
    with pytest.raises(SecretFileError, match=f"{device}: is not a regular file \\(a character device\\)"):
        read_secret(device, "[mqtt] password_file")


def test_a_fifo_is_refused_at_once_and_a_directory_too(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # nobody writes it: reading it would wait for ever
    with pytest.raises(SecretFileError, match=r"is not a regular file \(a FIFO\)"):
        read_secret(str(fifo), "[web] token_file")
    with pytest.raises(SecretFileError, match=r"is not a regular file \(a directory\)"):
        read_secret(str(tmp_path), "[web] token_file")


def test_a_huge_file_is_read_only_up_to_its_bound(tmp_path):
    big = tmp_path / "big"
    with open(big, "wb") as f:
        f.truncate(1 << 30)  # a sparse gigabyte of zero bytes and no line end
    big.chmod(0o600)
    with pytest.raises(SecretFileError, match=f"no line end in its first {MAX_BYTES} bytes"):
        read_secret(str(big), "[mqtt] password_file")
    with pytest.raises(SecretFileError, match="the first line is empty"):
        read_secret(str(secret(tmp_path, "\nsecond")), "[mqtt] password_file")


def test_a_symbolic_link_is_refused_by_the_page_and_the_publisher(tmp_path):
    target = secret(tmp_path, TOKEN + "\n")
    link = tmp_path / "link"
    link.symlink_to(target)
    with pytest.raises(ValueError, match=r"\[web\] token_file = .*link: is a symbolic link"):
        read_token(str(link))
    with pytest.raises(BrokerSetupError, match=r"\[mqtt\] password_file = .*link: is a symbolic link"):
        BrokerSettings.from_config(MqttSection(host="localhost", password_file=str(link)), "node")


def test_a_world_readable_secret_is_taken_with_a_warning_naming_the_fix(tmp_path, caplog):
    path = secret(tmp_path, TOKEN + "\n", 0o644)
    with caplog.at_level(logging.WARNING):
        assert read_token(str(path)) == TOKEN
        settings = BrokerSettings.from_config(MqttSection(host="localhost", password_file=str(path)), "node")
    assert settings.password == TOKEN
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2 and all(f"sudo chmod o-rwx {path}" in w for w in warnings)
