"""The Hubbub server: the ACS Identity and Chat REST API over a SQL store (engines in `store/`)."""
