"""Which numeric ids may become a lab's uid or gid."""

# Debian reserves 0-999 for the system; 65534 is nobody/nogroup and 65535 is (uint16)-1.
# Files written under these ids on shared storage would belong to system accounts.
FIRST_USABLE_ID = 1000
RESERVED_IDS = frozenset({65534, 65535})
# The kernel's uid_t is 32 bits and (uint32)-1 means "no change" to chown; ids beyond
# 2**31 - 1 also break tools that read them as signed.
LAST_USABLE_ID = 2**31 - 1


class IdentityError(ValueError):
    """An identity that must not run a lab, with the reason in words a person can act on."""


def check_system_id(value: int, what: str) -> None:
    """Refuse ids that would collide with system accounts or overflow tools."""
    if value < FIRST_USABLE_ID:
        raise IdentityError(
            f"{what} {value} is below {FIRST_USABLE_ID}: ids under {FIRST_USABLE_ID} belong "
            "to system accounts in the lab image, so files would be owned by them"
        )
    if value in RESERVED_IDS:
        raise IdentityError(f"{what} {value} is reserved (nobody/nogroup or -1)")
    if value > LAST_USABLE_ID:
        raise IdentityError(f"{what} {value} is above {LAST_USABLE_ID}, the largest usable id")
