"""devlab's JupyterHub plugins. The only package that imports JupyterHub."""
