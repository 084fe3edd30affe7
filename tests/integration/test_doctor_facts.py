"""What `devlab doctor` gathers from this machine's real engine (the checks themselves
are unit-tested on made-up facts in tests/unit/test_doctor.py)."""

from pathlib import Path

from devlab.stack.doctor import evaluate, gather, render
from devlab.stack.settings import resolve_settings

REPO = Path(__file__).resolve().parents[2]


def test_gather_on_this_machine_reaches_the_engine(tmp_path):
    settings = resolve_settings(
        project_dir=str(REPO), env={"DEVLAB_STATE_DIR": str(tmp_path / "state")}
    )
    facts = gather(settings)
    report = evaluate(facts)
    engine = report.checks[0]
    assert (engine.name, engine.status) == ("engine", "ok"), engine.detail
    assert facts.images is not None
    assert facts.disks[0].free_bytes is not None
    assert set(facts.wanted_ports.values()) >= {settings.http_port, settings.nfs_port}
    rendered = render(report, color=False)
    assert all(check.name in rendered for check in report.checks)
