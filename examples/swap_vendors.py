"""Swap vendors with one string: the same prompt through Anthropic and OpenAI.

Both models stream plain-text chunks (``chunk.content`` is a ``str`` for every vendor), and
summing the chunks gives the same kind of message: text, usage and ``finish_reason``.

    ANTHROPIC_API_KEY=... OPENAI_API_KEY=... python examples/swap_vendors.py
    python examples/replay.py examples/swap_vendors.py      # offline, from the cassette
"""

from __future__ import annotations

from langchain_core.messages import AIMessageChunk

import streamtap

PROMPT = "Tell me a joke about streams"


def main() -> None:
    for spec in ("anthropic:claude-sonnet-4-6", "openai:gpt-4o-mini"):
        model = streamtap.chat_model(spec, temperature=0)
        print(f"--- {spec}")
        message: AIMessageChunk | None = None
        for chunk in model.stream(PROMPT):
            print(chunk.content, end="|", flush=True)  # "|" marks the chunk boundaries
            message = chunk if message is None else message + chunk
        assert message is not None
        print()
        print("text:", message.text)
        print("usage:", message.usage_metadata)
        print("finish_reason:", message.response_metadata["finish_reason"])


if __name__ == "__main__":
    main()
