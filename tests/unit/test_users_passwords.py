"""Handing out one-time passwords: a private CSV never overwritten, or a table shown once."""

import csv
import os
import stat
from pathlib import Path

import pytest

from devlab.cli import build_parser
from devlab.stack.lifecycle import StackError
from devlab.stack.users import PasswordSheet, create_private_csv


def test_the_csv_is_owner_only_from_its_first_byte_and_never_overwritten(tmp_path):
    path = tmp_path / "room-passwords.csv"
    old_umask = os.umask(0)  # even a permissive umask cannot widen it
    try:
        create_private_csv(path).close()
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_text("earlier passwords\n")
    with pytest.raises(StackError, match="never overwrites") as refused:
        create_private_csv(path)
    assert "--passwords-csv" in str(refused.value)
    assert path.read_text() == "earlier passwords\n"


def test_a_missing_directory_is_named():
    with pytest.raises(StackError, match="check the path"):
        create_private_csv(Path("/nonexistent-devlab-dir/out.csv"))


def test_the_sheet_writes_each_row_as_it_is_issued(tmp_path):
    path = tmp_path / "out.csv"
    sheet = PasswordSheet(path)
    sheet.add("ann", "abcd-efgh-jkmn")
    # Already on disk before the import goes on: a later failure loses nothing.
    assert "ann,abcd-efgh-jkmn" in path.read_text()
    sheet.add("ben", "pqrs-tuvw-xyz2")
    said = sheet.close()
    assert "Wrote 2 one-time passwords" in said
    assert "0600" in said
    with path.open(newline="") as f:
        assert list(csv.reader(f)) == [
            ["username", "one_time_password"],
            ["ann", "abcd-efgh-jkmn"],
            ["ben", "pqrs-tuvw-xyz2"],
        ]


def test_an_empty_csv_is_not_kept(tmp_path):
    path = tmp_path / "out.csv"
    assert "not kept" in PasswordSheet(path).close()
    assert not path.exists()


def test_without_a_csv_the_passwords_are_a_table_shown_once():
    sheet = PasswordSheet(None)
    assert sheet.close() == ""
    sheet.add("organiser", "abcd-efgh-jkmn")
    lines = sheet.close().splitlines()
    assert lines[0].split() == ["USER", "ONE-TIME", "PASSWORD"]
    assert lines[1].split() == ["organiser", "abcd-efgh-jkmn"]
    assert "Shown once" in lines[2]


def test_import_and_reset_password_take_a_passwords_csv():
    parser = build_parser()
    args = parser.parse_args(["users", "import", "room.csv", "--passwords-csv", "out.csv"])
    assert (args.file, args.passwords_csv) == ("room.csv", "out.csv")
    assert parser.parse_args(["users", "import", "room.csv"]).passwords_csv is None
    args = parser.parse_args(["users", "reset-password", "ann", "--passwords-csv", "o.csv"])
    assert (args.users_command, args.name, args.passwords_csv) == ("reset-password", "ann", "o.csv")
