"""Chained GitHub: a hub user links a GitHub account, and git in their lab pushes as it.

The platform devlab reproduces planned it (CILogon decides who you are, GitHub is still
asked for a token) but never shipped it. A hub-managed service (`python -m
devlab.github_link`) runs GitHub's web flow for the logged-in hub user and keeps the link
encrypted, keyed by hub user, outside the authenticator's auth_state (which
oauthenticator rebuilds at each refresh). Labs ask it for the token through git's
credential helper, with their own API token: the GitHub token never sits in a lab's
environment, files or container config.

`links` and `pending` are pure rules; `store` keeps links in SQLite; `github` and `app`
do the HTTP.
"""
