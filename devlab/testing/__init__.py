"""Testing devlab stacks: clients for the hub's REST API and, later, the pytest plugin."""
