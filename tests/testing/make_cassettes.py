"""Re-create the committed cassettes: ``.venv/bin/python -m tests.testing.make_cassettes``.

They are recorded through the real SDKs from the loopback SSE server, so they carry
real chunk boundaries and timing; the ``redact`` hook then rewrites the loopback
address to the vendor's, which is what a cassette recorded against the real API
looks like.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import anthropic
import openai

from streamtap.testing import Interaction, use_cassette
from tests.testing.sse_server import SSEServer, serve_sse

CASSETTES = Path(__file__).parent / "cassettes"
OPENAI_BASE = "https://api.openai.com"
ANTHROPIC_BASE = "https://api.anthropic.com"
MESSAGES = [{"role": "user", "content": "Say hello"}]


def _as_vendor(server: SSEServer, base: str) -> Callable[[Interaction], None]:
    """A redact hook that makes a loopback recording look like one made against ``base``."""

    def rewrite(interaction: Interaction) -> None:
        request = interaction.request
        request.url = request.url.replace(server.base_url + "/v1", base + "/v1")
        host = base.split("//", 1)[1].split("/", 1)[0]
        request.headers = [
            (name, host if name == "host" else value) for name, value in request.headers
        ]
        interaction.response.headers = [
            (name, value) for name, value in interaction.response.headers if name != "server"
        ]

    return rewrite


def main() -> None:
    with serve_sse() as server:
        path = CASSETTES / "openai_chat_text.json"
        client = openai.OpenAI(base_url=server.base_url + "/v1", api_key="unused", max_retries=0)
        with use_cassette(path, record_mode="all", redact=_as_vendor(server, OPENAI_BASE)):
            for _ in client.chat.completions.create(
                model="gpt-4o",
                messages=MESSAGES,
                stream=True,  # type: ignore[arg-type]
            ):
                pass

        path = CASSETTES / "anthropic_text.json"
        vendor = anthropic.Anthropic(base_url=server.base_url, api_key="unused", max_retries=0)
        with use_cassette(path, record_mode="all", redact=_as_vendor(server, ANTHROPIC_BASE)):
            for _ in vendor.messages.create(
                model="claude-sonnet-4-6",
                max_tokens=64,
                messages=MESSAGES,  # type: ignore[arg-type]
                stream=True,
            ):
                pass


if __name__ == "__main__":
    main()
