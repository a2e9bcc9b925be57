"""A board's name is one safe path component: its logs stay in boards/<name>/."""

from __future__ import annotations

import pytest

from harness.boards.inventory import BoardsFileError, parse_boards
from harness.cli import main


def _errors(text: str, where: str = "lab.toml") -> list[str]:
    with pytest.raises(BoardsFileError) as info:
        parse_boards(text, where)
    return info.value.errors


@pytest.mark.parametrize("name", ["..", ".", "a/b", "a\\b", "-x", ".hidden", "a b", "", "\u00e9"])
def test_a_board_name_must_be_one_safe_path_component(name):
    [error] = _errors(f"[boards.'{name}']\nkind = \"host\"\n")  # a TOML literal string: no escapes
    assert error.startswith(f"lab.toml: board {name!r}: not a board name: letters, digits, '.', '_' and '-', "
                            "starting with a letter or digit")


@pytest.mark.parametrize("name", ["host", "qemu-an385", "host-published-0.3.1", "rack_2.pico", "9"])
def test_usual_board_names_are_accepted(name):
    assert name in parse_boards(f'[boards."{name}"]\nkind = "host"\n')


def test_a_dotdot_board_writes_no_log_outside_its_directory(tmp_path, capsys):
    inventory = tmp_path / "boards.toml"
    inventory.write_text('[boards.".."]\nkind = "host"\n')
    artifacts = tmp_path / "art" / "x"
    assert main(["boards", "--boards-file", str(inventory), "--artifacts", str(artifacts)]) == 2
    assert "not a board name" in capsys.readouterr().err
    assert not (tmp_path / "art").exists()
