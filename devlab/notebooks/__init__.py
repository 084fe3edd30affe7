"""Notebooks as software: running repositories of notebooks across the image menu, as real
users, in real labs.

`plan` turns command-line input into what to run (the notebooks found under paths, the
images a selector names, parameters) without touching a lab; `report` turns the results
into the table, JUnit XML and HTML a person or a CI server reads. The runner that starts
labs through the hub and executes inside them builds on both.
"""
