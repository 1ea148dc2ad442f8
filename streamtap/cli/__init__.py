"""streamtap.cli."""
