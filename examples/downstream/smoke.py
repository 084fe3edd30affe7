"""The same stack without pytest, for scripts and other test runners: `python smoke.py`."""

from devlab.testing import DevlabStack

with DevlabStack(config="devlab.yaml") as stack:
    lab = stack.login("ada").spawn()
    result = lab.execute("import optics; print(round(optics.wavelength_nm(500)))")
    assert result.ok, result.error
    print(f"{stack.hub_url}: ada's lab computed {result.stdout.strip()} nm")
