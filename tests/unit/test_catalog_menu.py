"""The spawn menu from config and prepuller state, choice validation, the form and sizes."""

import re
import subprocess
import sys
from html.parser import HTMLParser

import pytest

from devlab.catalog.form import OTHER, options_from_form, render_form
from devlab.catalog.menu import ChoiceError, build_menu, size_host_config, validate_choice
from devlab.catalog.state import CatalogState, ImageRecord, read_state, write_state
from devlab.catalog.tags import Role
from devlab.config.catalog import CatalogConfig, LabSize

REPO = "127.0.0.1:5000/devlab/lab"
FALLBACK = "devlab/lab:0.1.0-abc"
CONFIG = CatalogConfig.model_validate(
    {
        "sources": [{"repository": REPO}],
        "images": [{"ref": "quay.io/jupyter/base-notebook:2026-01", "display_name": "Jupyter"}],
    }
)


def record(tag, role, status="pulled", **extra):
    names = {"recommended": "Recommended (Weekly 2026_47)", "r29_0": "Release r29.0"}
    return ImageRecord(
        ref=f"{REPO}:{tag}",
        display_name=names.get(tag, tag),
        role=role,
        source=REPO,
        desired=True,
        status=status,
        **extra,
    )


STATE = CatalogState(
    images=(
        record("d_2026_11_26", Role.DAILY),
        record("w_2026_47", Role.WEEKLY),
        record("w_2026_46", Role.WEEKLY, status="missing"),
        record("d_2026_11_25", Role.DAILY, status="failed", reason="connection refused"),
        record("r29_0", Role.RELEASE),
        record("recommended", Role.RECOMMENDED),
        record("r28_0", Role.PIN, owned=True).model_copy(update={"desired": False}),
        ImageRecord(
            ref="elsewhere:1", display_name="x", role=Role.IMAGE, desired=True, status="pulled"
        ),
    )
)


def refs(images):
    return [i.ref.removeprefix(f"{REPO}:") for i in images]


def test_menu_orders_pulled_images_recommended_first_then_release_weekly_daily():
    menu = build_menu(CONFIG, STATE, FALLBACK)
    assert refs(menu.pulled) == ["recommended", "r29_0", "w_2026_47", "d_2026_11_26"]
    assert menu.default_image == f"{REPO}:recommended"
    assert menu.pulled[0].display_name == "Recommended (Weekly 2026_47)"


def test_not_yet_pulled_images_are_others_and_unlisted_ones_are_dropped():
    menu = build_menu(CONFIG, STATE, FALLBACK)
    assert refs(menu.others) == [
        "w_2026_46",
        "d_2026_11_25",
        "quay.io/jupyter/base-notebook:2026-01",  # listed by ref, no state yet
    ]
    assert menu.others[1].note == "could not be pulled: connection refused"
    assert menu.others[2].display_name == "Jupyter"
    everything = {i.ref for i in (*menu.pulled, *menu.others)}
    assert f"{REPO}:r28_0" not in everything  # kept by the prepuller, no longer offered
    assert "elsewhere:1" not in everything  # no longer in the config
    assert FALLBACK not in everything  # catalog images are here


def test_nothing_configured_offers_the_fallback_only():
    menu = build_menu(CatalogConfig(), None, FALLBACK)
    assert [i.ref for i in menu.pulled] == [FALLBACK]
    assert menu.others == ()
    assert validate_choice(menu, {}).image == FALLBACK


def test_fallback_is_offered_while_no_catalog_image_is_pulled():
    menu = build_menu(CONFIG, None, FALLBACK)
    assert [i.ref for i in menu.pulled] == [FALLBACK]
    assert [i.role for i in menu.others] == [Role.IMAGE]


def test_same_label_from_two_repositories_is_told_apart():
    other = "127.0.0.1:5000/other/lab"
    config = CatalogConfig.model_validate(
        {"sources": [{"repository": REPO}, {"repository": other}]}
    )
    state = CatalogState(
        images=(
            record("w_2026_47", Role.WEEKLY),
            record("w_2026_47", Role.WEEKLY).model_copy(
                update={"ref": f"{other}:w_2026_47", "source": other}
            ),
        )
    )
    labels = [i.display_name for i in build_menu(config, state, None).pulled]
    assert labels == [f"w_2026_47 ({REPO})", f"w_2026_47 ({other})"]


# Validating choices --------------------------------------------------------------------------


def test_empty_options_mean_recommended_image_and_default_size():
    menu = build_menu(CONFIG, STATE, FALLBACK)
    for options in ({}, None, {"image": "", "size": None}):
        choice = validate_choice(menu, options)
        assert (choice.image, choice.size.name) == (f"{REPO}:recommended", "small")


def test_offered_choices_are_accepted_including_not_yet_pulled_ones():
    menu = build_menu(CONFIG, STATE, FALLBACK)
    image, size = validate_choice(menu, {"image": f"{REPO}:w_2026_46", "size": "large"})
    assert (image, size.name) == (f"{REPO}:w_2026_46", "large")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"image": "evil/miner:latest"}, "image 'evil/miner:latest' is not offered here"),
        ({"image": f"{REPO}:r28_0"}, "is not offered here"),
        ({"image": FALLBACK}, "is not offered here"),
        ({"size": "huge"}, "size 'huge' is not offered; choose one of: small, medium, large"),
        ({"image": ["a"]}, "option 'image' must be a string, not list"),
        ({"cpu": "64"}, "unknown option(s) 'cpu': a lab takes only image and size"),
    ],
)
def test_anything_not_on_the_menu_is_refused_clearly(options, message):
    menu = build_menu(CONFIG, STATE, FALLBACK)
    with pytest.raises(ChoiceError, match=re.escape(message)):
        validate_choice(menu, options)


def test_no_image_at_all_is_a_clear_error():
    with pytest.raises(ChoiceError, match="no lab image is available"):
        validate_choice(build_menu(CatalogConfig(), None, None), {})


# Sizes -------------------------------------------------------------------------------------


def test_guarantees_are_shares_and_reservations_limits_are_caps():
    size = LabSize(name="m", cpu_guarantee=0.5, cpu_limit=4, mem_guarantee="512M", mem_limit="8G")
    assert size_host_config(size) == {
        "cpu_shares": 512,
        "nano_cpus": 4_000_000_000,
        "mem_reservation": 512 * 2**20,
        "mem_limit": 8 * 2**30,
        "memswap_limit": 8 * 2**30,
    }
    none = LabSize(name="n", cpu_guarantee=0, cpu_limit=1, mem_guarantee=0, mem_limit="1G")
    assert size_host_config(none) == {
        "cpu_shares": 2,
        "nano_cpus": 10**9,
        "mem_limit": 2**30,
        "memswap_limit": 2**30,
    }


def test_size_host_config_is_accepted_by_the_docker_sdk():
    from docker.types import HostConfig

    for size in CatalogConfig().sizes:
        config = HostConfig(version="1.41", **size_host_config(size))
        assert config["NanoCpus"] == int(size.cpu_limit * 1e9)
        assert config["MemoryReservation"] == size.mem_guarantee
        assert "CpuQuota" not in config
        assert config["MemorySwap"] == config["Memory"]  # no swap beyond the memory limit


# The form ----------------------------------------------------------------------------------


class _Inputs(HTMLParser):
    """The form controls in a fragment, to check structure rather than exact markup."""

    def __init__(self):
        super().__init__()
        self.radios, self.options, self.selects = [], [], []
        self.tags, self.text = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        attrs = dict(attrs)
        if tag == "input" and attrs.get("type") == "radio":
            self.radios.append((attrs["name"], attrs["value"], "checked" in attrs))
        elif tag == "option":
            self.options.append(attrs["value"])
        elif tag == "select":
            self.selects.append(attrs["name"])

    def handle_data(self, data):
        self.text.append(data)


# Every element the form itself writes: anything else came in with escaped text.
FORM_TAGS = {"div", "fieldset", "legend", "input", "label", "small", "select", "option", "p"}


def parse(fragment):
    inputs = _Inputs()
    inputs.feed(fragment)
    return inputs


def test_form_has_pulled_radios_recommended_checked_others_in_a_select_and_sizes():
    menu = build_menu(CONFIG, STATE, FALLBACK)
    form = parse(render_form(menu))
    images = [(v, c) for n, v, c in form.radios if n == "image"]
    assert images == [
        (f"{REPO}:recommended", True),
        (f"{REPO}:r29_0", False),
        (f"{REPO}:w_2026_47", False),
        (f"{REPO}:d_2026_11_26", False),
        (OTHER, False),
    ]
    assert form.selects == ["image_other"]
    assert form.options == [i.ref for i in menu.others]
    sizes = [(v, c) for n, v, c in form.radios if n == "size"]
    assert sizes == [("small", True), ("medium", False), ("large", False)]
    fragment = render_form(menu)
    assert "slower to start" in fragment
    assert "0.5 to 1 core, 512 MB to 2 GB memory" in fragment


def test_form_without_pulled_images_preselects_the_dropdown():
    config = CatalogConfig.model_validate({"images": [{"ref": "a/b:1"}]})
    form = parse(render_form(build_menu(config, None, None)))
    assert [(n, v, c) for n, v, c in form.radios if n == "image"] == [("image", OTHER, True)]


def test_form_escapes_config_text():
    config = CatalogConfig.model_validate(
        {
            "images": [{"ref": "a/b:1", "display_name": '<script>alert("x")</script>'}],
            "sizes": [
                {"name": "s", "display_name": "<b>big</b>", "cpu_guarantee": 1, "cpu_limit": 1,
                 "mem_guarantee": "1G", "mem_limit": "1G"}
            ],
        }
    )  # fmt: skip
    form = parse(render_form(build_menu(config, None, None)))
    assert set(form.tags) <= FORM_TAGS, form.tags
    text = "".join(form.text)
    assert '<script>alert("x")</script>' in text
    assert "<b>big</b>" in text


def test_form_escapes_what_the_registry_and_the_engine_say():
    """Tags come from whoever can push to a configured repository, and a failed pull's
    reason from the engine: neither may add markup or leave an attribute."""
    tag = 'x"><script>alert(1)</script>'
    state = CatalogState(
        images=(
            record(tag, Role.DAILY),
            record("d_2026_11_25", Role.DAILY, status="failed", reason="<img src=x onerror=y>"),
        )
    )
    form = parse(render_form(build_menu(CONFIG, state, FALLBACK)))
    assert set(form.tags) <= FORM_TAGS, form.tags
    assert ("image", f"{REPO}:{tag}", True) in form.radios
    text = "".join(form.text)
    assert f"{tag} {REPO}:{tag}" in text
    assert "could not be pulled: <img src=x onerror=y>" in text


def test_the_cli_loads_the_catalog_without_jinja2():
    """Jinja2 comes with the hub extra; `pipx install devlab` has only the CLI's needs."""
    blocked = ("jinja2", "markupsafe")
    code = (
        f"import sys; sys.modules.update(dict.fromkeys({blocked!r})); "
        "import devlab.cli, devlab.catalog; devlab.catalog.build_menu"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_form_post_becomes_user_options():
    assert options_from_form({"image": ["a/b:1"], "size": ["large"]}) == {
        "image": "a/b:1",
        "size": "large",
    }
    other = {"image": [OTHER], "image_other": [b"c/d:2"], "size": ["small"]}
    assert options_from_form(other) == {"image": "c/d:2", "size": "small"}
    assert options_from_form({}) == {}


def test_posted_form_round_trips_through_validation():
    menu = build_menu(CONFIG, STATE, FALLBACK)
    posted = {"image": [OTHER], "image_other": [f"{REPO}:w_2026_46"], "size": ["medium"]}
    image, size = validate_choice(menu, options_from_form(posted))
    assert (image, size.name) == (f"{REPO}:w_2026_46", "medium")


# The state file ----------------------------------------------------------------------------


def test_state_round_trips_and_bad_files_read_as_no_state(tmp_path):
    path = tmp_path / "sub" / "state.json"
    assert read_state(path) is None
    write_state(path, STATE)
    assert read_state(path) == STATE
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    assert [p.name for p in path.parent.iterdir()] == ["state.json"]  # no temp files left
    path.write_text("{not json")
    assert read_state(path) is None
    path.write_text('{"version": 99}')
    assert read_state(path) is None
    menu = build_menu(CONFIG, read_state(path), FALLBACK)
    assert [i.ref for i in menu.pulled] == [FALLBACK]
