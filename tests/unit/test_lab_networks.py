"""Each lab's own network: names that `down` and the proxy policy know, subnets that never clash."""

import ipaddress

import pytest

from devlab.config import DevlabConfig, parse_config
from devlab.config.loader import ConfigError
from devlab.hub.networks import LabNetworkError, free_subnet, lab_network_name, lab_network_prefix


def test_lab_networks_are_named_per_stack_and_user():
    assert lab_network_name("s1", "alice") == "s1_lab-alice"
    assert lab_network_name("s1", "alice").startswith(lab_network_prefix("s1"))
    assert not lab_network_name("s10", "x").startswith(lab_network_prefix("s1"))


def test_the_first_free_subnet_skips_every_overlap_of_any_stack():
    used = ["10.213.0.0/29", "172.17.0.0/16", "10.213.0.8/30", "", "fd00::/64"]
    assert free_subnet("10.213.0.0/16", used) == ipaddress.ip_network("10.213.0.16/29")


def test_a_network_covering_the_pool_start_pushes_past_it():
    assert free_subnet("10.213.0.0/16", ["10.213.0.0/24"]) == ipaddress.ip_network("10.213.1.0/29")


def test_a_full_pool_says_how_to_fix_it():
    with pytest.raises(LabNetworkError, match=r"lab\.network_pool"):
        free_subnet("10.213.0.0/28", ["10.213.0.0/29", "10.213.0.8/29"])


def test_the_default_pool_is_clear_of_dockers_own_address_pools():
    """Docker's default bridge and its default-address-pools for Compose networks
    (172.17-31.x and 192.168.x): lab subnets taken from there would clash with them."""
    pool = ipaddress.ip_network(DevlabConfig().lab.network_pool)
    for dockers in ("172.16.0.0/12", "192.168.0.0/16"):
        assert not pool.overlaps(ipaddress.ip_network(dockers)), dockers


def test_the_pool_is_validated_with_its_key(tmp_path):
    path = tmp_path / "devlab.yaml"
    path.write_text("lab:\n  network_pool: 10.0.0.0/30\n")
    with pytest.raises(ConfigError, match="network_pool"):
        parse_config(path.read_text(), str(path))
