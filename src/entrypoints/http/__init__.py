"""The JSON HTTP API (Litestar): app factory, controllers, msgspec bodies and error mapping."""
