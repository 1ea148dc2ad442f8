"""streamtap's benchmark: per-chunk cost next to the raw SDKs, LangChain and LangGraph.

Run ``python -m bench`` (or ``make bench``); ``python -m bench --help`` lists the
options. Modules: :mod:`bench.streams` (wire-exact bodies), :mod:`bench.transports`
(in-process mock and loopback endpoints), :mod:`bench.server` (the loopback SSE
server), :mod:`bench.scenarios`, :mod:`bench.runner` (interleaved timing),
:mod:`bench.concurrency`, :mod:`bench.report`, :mod:`bench.profile`.
"""
