"""What `devlab up` prints: where to go, and who can log in with which uid and groups."""

from __future__ import annotations

from pathlib import Path

import yaml

from devlab.config import parse_config
from devlab.platform import DEFAULT_CONFIG
from devlab.stack.settings import resolve_settings
from devlab.stack.summary import render_up


def rendered(tmp_path: Path, **changes: object) -> list[str]:
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    raw["auth"]["provider"] = "cilogon-mock"
    raw.update(changes)
    config = parse_config(yaml.safe_dump(raw))
    settings = resolve_settings(
        env={"DEVLAB_STATE_DIR": str(tmp_path), "DEVLAB_CILOGON_PORT": "18091"}
    )
    return render_up(settings, config, {}, {}, ("volume", "default")).splitlines()


def test_mock_cilogon_users_are_listed_with_their_claims_numbers(tmp_path):
    lines = rendered(tmp_path)
    assert "Mock CILogon http://127.0.0.1:18091" in [" ".join(line.split()) for line in lines]
    ada = next(line for line in lines if line.split()[:1] == ["ada"])
    assert ada.split() == [
        "ada", "uid", "3000001", "gid", "2000001", "groups", "astro", "(2000101),",
        "pipelines", "(2000102)", "[Example", "University]",
    ]  # fmt: skip
    hedy = next(line for line in lines if line.split()[:1] == ["hedy"])
    assert hedy.endswith("[GitHub]")


def test_a_claim_the_mock_leaves_out_shows_as_a_dash(tmp_path):
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())["mock_cilogon"]
    raw["users"] = [{"sub": "s", "idp": next(iter(raw["idps"])), "isMemberOf": [{"name": "lab"}]}]
    (line,) = [line for line in rendered(tmp_path, mock_cilogon=raw) if "uid" in line]
    assert line.split()[:8] == ["-", "uid", "-", "gid", "-", "groups", "lab", "(-)"]


def test_a_github_link_on_the_mock_lists_the_link_page_and_the_accounts(tmp_path):
    auth = yaml.safe_load(DEFAULT_CONFIG.read_text())["auth"]
    lines = rendered(tmp_path, auth={**auth, "provider": "cilogon-mock", "github_link": {}})
    squeezed = [" ".join(line.split()) for line in lines]
    assert "GitHub link http://127.0.0.1:8000/services/github-link/" in squeezed
    assert any(line.startswith("Mock GitHub http://127.0.0.1:") for line in squeezed)
    logins = [
        u["login"] for u in yaml.safe_load(DEFAULT_CONFIG.read_text())["mock_github"]["users"]
    ]
    assert f"GitHub accounts to link (mock GitHub): {', '.join(logins)}" in squeezed


def test_without_a_github_link_there_is_no_link_row(tmp_path):
    assert not any(line.startswith("GitHub link") for line in rendered(tmp_path))
