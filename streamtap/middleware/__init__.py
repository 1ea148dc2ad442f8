"""streamtap.middleware: callback handlers that feed graph stream modes."""

from streamtap.middleware._messages import StreamMessagesHandler

__all__ = ["StreamMessagesHandler"]
