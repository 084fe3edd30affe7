"""The OAuth 2.0 provider rules and pages shared by devlab's mock identity providers.

`devlab.oauth_mock` (mock GitHub) and `devlab.cilogon_mock` (mock CILogon) differ in
URLs, token shapes and identities, but both are authorization-code providers for one
registered client: the same client check, PKCE, single-use expiring codes, refusals that
never redirect to an unverified URI, and the same honest banner on their pages. Those
live here once: `devlab.oauth2.core` without HTTP, `devlab.oauth2.web` for tornado, and
`devlab.oauth2.serve` for running either as a service.
"""
