"""This project's own code, which its lab image carries (see Dockerfile)."""

SPEED_OF_LIGHT_NM_THZ = 299_792.458  # nm * THz


def wavelength_nm(frequency_thz: float) -> float:
    """The wavelength of light at this frequency."""
    return SPEED_OF_LIGHT_NM_THZ / frequency_thz
