"""streamtap.testing."""
