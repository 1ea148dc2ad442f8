"""One chat model that retries, falls back across vendors and recovers mid-answer.

The recorded run: OpenAI answers 429 twice (retried, then given up), the Anthropic fallback
is cut off by an ``overloaded_error`` halfway through its answer, and ``recovery="continue"``
re-requests with the partial answer so the continuation streams on under the same message id.
The consumer just sees one answer; ``response_metadata["attempts"]`` tells the story.

    OPENAI_API_KEY=... ANTHROPIC_API_KEY=... python examples/resilient.py
    python examples/replay.py examples/resilient.py      # offline, from the cassette
"""

from __future__ import annotations

from langchain_core.messages import AIMessageChunk

import streamtap

model = streamtap.resilient(
    "openai:gpt-4o",  # primary (a spec string or a streamtap chat model)
    "anthropic:claude-sonnet-4-5",  # fallbacks, tried in order (Claude 4.5 can continue a prefill)
    retry=streamtap.RetryPolicy(max_attempts=2, initial_wait=0.2, max_wait=2, deadline=30),
    first_token_timeout=20,  # seconds until the first content chunk
    idle_timeout=15,  # longest gap between content chunks
    total_timeout=120,  # hard limit for the whole call, retries included
    recovery="continue",  # "raise" (default) | "continue" | "restart"
)


def main() -> None:
    final: AIMessageChunk | None = None
    ids: set[str | None] = set()
    for chunk in model.stream("Explain TCP slow start"):
        print(chunk.content, end="", flush=True)
        ids.add(chunk.id)
        final = chunk if final is None else final + chunk
    assert final is not None
    print()
    print("one message id for every chunk:", len(ids) == 1)
    print(
        "answered by:",
        final.response_metadata["model_provider"],
        final.response_metadata["model_name"],
    )
    print("usage:", final.usage_metadata)
    for attempt in final.response_metadata["attempts"]:
        shown = {key: attempt.get(key) for key in ("provider", "mode", "error", "next")}
        if attempt.get("after_content"):
            shown["after_content"] = True
        print("attempt:", shown)
    model.close()


if __name__ == "__main__":
    main()
