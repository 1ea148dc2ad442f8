"""pytest plugin entry point (filled in by the cassette work)."""
