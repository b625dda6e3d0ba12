"""Acceptance tests of the Hubbub server, driven through the official Azure SDKs and raw HTTP."""
