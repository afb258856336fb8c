"""Database reads and writes the API needs, one module per resource. Functions take the
caller's session and never commit: the request's unit of work does, once."""
