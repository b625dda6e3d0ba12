"""The Hubbub server: ACS Identity and Chat REST API on SQLite or PostgreSQL."""
