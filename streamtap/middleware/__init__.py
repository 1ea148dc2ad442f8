"""streamtap.middleware."""
