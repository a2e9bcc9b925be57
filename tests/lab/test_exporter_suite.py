"""The whole conformance suite through Debian's ser2net: the emulated board exported as
RFC 2217 and as raw TCP, two boards of one test inventory, run in parallel."""

from __future__ import annotations

from conftest import EXPORTED_BOARD, assert_every_clause_passes, finish

SUITE_TIMEOUT = 900


def test_whole_suite_passes_through_rfc2217_and_raw_tcp_exporters(exported_qemu, run_suite, tmp_path):
    rfc2217, raw = exported_qemu("rfc2217"), exported_qemu("raw")
    boards_file = tmp_path / "boards.toml"
    boards_file.write_text(
        f'[boards.rack-rfc2217]\nkind = "serial"\nport = "{rfc2217.url("rfc2217")}"\n{EXPORTED_BOARD}'
        f'[boards.rack-raw]\nkind = "serial"\nport = "{raw.url("raw")}"\n{EXPORTED_BOARD}')
    status, out = finish(run_suite(boards_file, tmp_path / "reports"), SUITE_TIMEOUT)
    assert status == 0, out[-3000:]
    assert_every_clause_passes(tmp_path / "reports", ["rack-rfc2217", "rack-raw"], out)
