"""Workshop rosters: forgiving about what spreadsheets add, exact about every bad line."""

import pytest

from devlab.identity.roster import RosterEntry, RosterError, parse_roster


def problems(text, source="users.csv"):
    with pytest.raises(RosterError) as caught:
        parse_roster(text, source)
    return caught.value


def test_bare_usernames_are_users_without_admin_or_group():
    assert parse_roster("alice\nbob\n") == [RosterEntry("alice"), RosterEntry("bob")]


def test_header_flags_groups_whitespace_case_blank_lines_and_comments():
    text = (
        "\ufeffUsername, Admin , Group\n"
        "# organisers\n"
        "  Alice , yes, Rubin-Sci\n"
        "\n"
        "bob,no,\n"
        "carol,,devlab-devs\n"
        "dave,ADMIN\n"
        "erin,1,,\n"
        "frank , false\n"
        "gina,0\n"
        "hank,TRUE\n"
        "   \n"
    )
    assert parse_roster(text) == [
        RosterEntry("alice", True, "rubin-sci"),
        RosterEntry("bob", False, None),
        RosterEntry("carol", False, "devlab-devs"),
        RosterEntry("dave", True, None),
        RosterEntry("erin", True, None),
        RosterEntry("frank", False, None),
        RosterEntry("gina", False, None),
        RosterEntry("hank", True, None),
    ]


def test_header_is_only_the_first_row():
    assert parse_roster("alice\nusername\n") == [RosterEntry("alice"), RosterEntry("username")]
    assert parse_roster("username\nalice\n") == [RosterEntry("alice")]


def test_quoted_cells_are_csv():
    assert parse_roster('"alice","yes","rubin-sci"\n') == [RosterEntry("alice", True, "rubin-sci")]


def test_bad_name_names_its_line_and_the_rule():
    error = problems("alice\nbob\ncarol\nbob smith\n")
    assert str(error).startswith(
        "users.csv:4: 'bob smith' is not a valid user name (letters, digits, '.', '_', '-'"
    )
    assert str(error).endswith("Fix users.csv and run `devlab users import users.csv` again.")


def test_every_problem_is_listed_with_its_line():
    text = "alice,maybe\n-bob\ncarol,yes,Bad_Group\ndave,no,x,extra\nAlice\n,yes\n"
    error = problems(text)
    assert len(error.problems) == 6
    lines = str(error).splitlines()
    assert lines[0].startswith("users.csv:1: admin flag 'maybe' is not one of yes, no")
    assert lines[1].startswith("users.csv:2: '-bob' is not a valid user name")
    assert lines[2].startswith("users.csv:3: 'Bad_Group' is not a valid group name")
    assert lines[3].startswith("users.csv:4: 4 columns, at most 3 (username, admin, group)")
    assert "remove 'extra'" in lines[3]
    assert lines[4] == (
        "users.csv:5: 'alice' is listed twice (lines 1 and 5; names are case-insensitive): keep one"
    )
    assert lines[5].startswith("users.csv:6: no user name in the first column")


def test_duplicates_name_both_lines_case_insensitively():
    error = problems("Alice\nbob\n\nALICE,yes\n")
    assert error.problems == [
        "users.csv:4: 'alice' is listed twice (lines 1 and 4; names are case-insensitive): keep one"
    ]


@pytest.mark.parametrize("text", ["", "\n\n", "# just a comment\n", "username,admin,group\n"])
def test_a_file_without_users_says_what_one_looks_like(text):
    error = problems(text)
    assert str(error).splitlines()[0] == (
        "users.csv has no users: one username per line, optionally ,admin,group"
    )
    assert str(error).endswith("run `devlab users import users.csv` again.")


@pytest.mark.parametrize("group", ["a" * 40, "two--dashes", "trailing-", "has space", "dot.ted"])
def test_group_names_follow_github_logins(group):
    error = problems(f"alice,no,{group}\n")
    assert "is not a valid group name" in str(error)


def test_long_user_names_are_refused():
    assert parse_roster("a" * 64 + "\n") == [RosterEntry("a" * 64)]
    assert "not a valid user name" in str(problems("a" * 65 + "\n"))


def test_default_source_names_the_text():
    with pytest.raises(RosterError, match=r"^<csv>:1: "):
        parse_roster("bad name\n")
