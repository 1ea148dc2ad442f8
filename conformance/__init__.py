"""LangGraph's own unit tests, run against ``streamtap.graph`` (``make conformance``)."""
