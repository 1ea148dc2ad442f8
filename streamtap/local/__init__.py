"""streamtap.local."""
