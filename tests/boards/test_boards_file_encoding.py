"""A boards file that is not UTF-8 is a usage error naming the file and the first bad byte."""

from __future__ import annotations

import pytest

from harness.boards.inventory import BoardsFileError, load_boards
from harness.cli import main


def test_non_utf8_boards_file_is_named_with_the_first_bad_byte(tmp_path):
    path = tmp_path / "boards.toml"
    path.write_bytes(b'[boards.x]\nkind = "h\xffst"\n')
    with pytest.raises(BoardsFileError) as info:
        load_boards(path)
    assert info.value.errors == [f"{path}: not UTF-8 text: byte 0xff at offset 20 (line 2, column 10); "
                                 "save the file as UTF-8"]


def test_boards_command_reports_a_non_utf8_file_without_a_traceback(tmp_path, capsys):
    path = tmp_path / "boards.toml"
    path.write_bytes(b'\xff\xfe[boards.x]\nkind="host"\n')
    assert main(["boards", "--no-probe", "--boards-file", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"error: {path}: not UTF-8 text: byte 0xff at offset 0 (line 1, column 1); " \
                           "save the file as UTF-8\n"


def test_run_names_the_non_utf8_boards_file(tmp_path, capsys):
    path = tmp_path / "boards.toml"
    path.write_bytes(b'\xff\xfe[boards.x]\nkind="host"\n')
    assert main(["run", "--boards-file", str(path), "--reports", str(tmp_path / "reports")]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "not UTF-8" in err
    assert not (tmp_path / "reports").exists()


def test_non_utf8_expectations_file_is_named_with_the_first_bad_byte(tmp_path):
    from harness.report.expectations import ExpectationsError, load_expectations
    path = tmp_path / "expected.toml"
    path.write_bytes(b'[deviations]\nC1 = "caf\xe9"\n')
    with pytest.raises(ExpectationsError) as info:
        load_expectations(path)
    assert str(info.value) == f"{path}: not UTF-8 text: byte 0xe9 at offset 22 (line 2, column 10); " \
                              "save the file as UTF-8"
