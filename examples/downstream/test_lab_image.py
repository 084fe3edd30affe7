"""What a team that builds its own lab image or notebooks writes with devlab's plugin.

Run from your project with `pip install devlab[test]`; point the plugin at a devlab
checkout (`--devlab-project-dir`) and, if you like, at your own config
(`--devlab-config`, where lab.image names your image).
"""

import nbformat


def test_code_runs_as_the_logged_in_user(devlab):
    alice = devlab.login("alice")
    lab = alice.spawn()
    result = lab.execute("import os; print(os.getuid()); 6 * 7")
    assert result.ok, result.error
    assert result.stdout.strip() == "7000001"
    assert result.result == "42"
    lab.stop()
    alice.logout()


def test_a_notebook_runs_in_the_lab_with_parameters(devlab):
    lab = devlab.login("bob").spawn()
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("n = 1", metadata={"tags": ["parameters"]}),
            nbformat.v4.new_code_cell("print(sum(range(n)))"),
        ]
    )
    executed = lab.run_notebook(notebook, parameters={"n": 10})
    assert executed.cells[2].outputs[0]["text"].strip() == "45"
    lab.stop()
