"""streamtap.graph."""
