"""Our lab, tested the way our users work in it: log in, start a lab, run code, files,
notebooks. The `devlab` fixture (devlab's pytest plugin) runs a whole devlab stack with
our devlab.yaml for the test session, and attaches its logs to any failure."""

import nbformat


def test_our_users_get_our_image_with_their_identity(devlab):
    lab = devlab.login("ada").spawn()
    code = "import os, optics; print(os.getuid(), *os.getgroups()); optics.wavelength_nm(600)"
    result = lab.execute(code)
    assert result.ok, result.error
    uid, *groups = result.stdout.split()
    assert uid == "7100001"
    assert "8100001" in groups  # the optics-lab org
    assert float(result.result) == 299_792.458 / 600
    lab.stop()


def test_files_written_in_the_lab_are_the_users_own(devlab):
    lab = devlab.login("grace").spawn()
    lab.write_file("readings.csv", "frequency_thz\n600\n")
    result = lab.execute("import os; st = os.stat('readings.csv'); print(st.st_uid)")
    assert result.stdout.strip() == "7100002"
    assert lab.read_file("readings.csv") == "frequency_thz\n600\n"
    lab.stop()


def test_our_notebook_runs_with_parameters(devlab):
    lab = devlab.login("ada").spawn()
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("frequency_thz = 500", metadata={"tags": ["parameters"]}),
            nbformat.v4.new_code_cell("from optics import wavelength_nm"),
            nbformat.v4.new_code_cell("print(round(wavelength_nm(frequency_thz)))"),
        ]
    )
    executed = lab.run_notebook(notebook, parameters={"frequency_thz": 750})
    assert executed.cells[-1].outputs[0]["text"].strip() == "400"
    lab.stop()
