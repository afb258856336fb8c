"""The platform's HTTP face (FastAPI): `create_app(platform)` builds it."""
