"""A mock CILogon (OpenID Connect) provider for development and CI; NOT an identity provider.

It lets the unmodified `oauthenticator.CILogonOAuthenticator` log people in as the users
listed under `mock_cilogon` in config/devlab.yaml, with the Unix identity claims
(`uidNumber`, `gidNumber`, `isMemberOf`) NCSA's CILogon deployment released, and signs
real RS256 id_tokens the hub can verify against its JWKS. Anyone who can reach it can
sign in as anyone: never expose it beyond a development machine.

Run it with `python -m devlab.cilogon_mock --help`. The app is in
`devlab.cilogon_mock.app` (tornado and Jinja2 come with the hub extra); the store and
keys need neither.
"""
