"""The httpx -> httpx2 alias is an explicit, idempotent call, never an import side effect.

Each check runs in a fresh interpreter: the test process itself already has the
alias (``-p tests._httpx2_alias``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CASSETTES = Path(__file__).parent / "cassettes"


def _python(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def _ok(code: str) -> str:
    result = _python(code)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_importing_streamtap_testing_leaves_httpx_alone() -> None:
    _ok(
        """
        import streamtap.testing
        import sys
        assert 'httpx' not in sys.modules or sys.modules['httpx'].__name__ == 'httpx'
        """
    )


def test_importing_the_cassette_api_leaves_httpx_and_respx_alone() -> None:
    _ok(
        """
        import sys
        from streamtap.testing import use_cassette, find_credentials, redact_interaction
        from streamtap.testing import cassette, fileformat, scan
        assert 'httpx' not in sys.modules, sys.modules.get('httpx')
        assert 'respx' not in sys.modules
        import httpx
        assert httpx.__name__ == 'httpx'
        """
    )


def test_install_is_explicit_and_idempotent() -> None:
    _ok(
        """
        import sys
        import httpx2
        from streamtap.testing import install_httpx_alias
        assert 'httpx' not in sys.modules
        assert install_httpx_alias() is True
        assert install_httpx_alias() is True
        import httpx
        assert httpx is httpx2 and sys.modules['httpx'] is httpx2
        """
    )


def test_install_after_the_real_httpx_says_why() -> None:
    _ok(
        """
        import httpx
        from streamtap.testing import install_httpx_alias
        from streamtap.testing._alias import alias_problem
        assert install_httpx_alias() is False
        assert httpx.__name__ == 'httpx'
        assert 'install_httpx_alias()' in alias_problem()
        """
    )


def test_a_cassette_installs_the_alias_when_it_starts() -> None:
    """Outside pytest, with no explicit call: the cassette's own start makes the call."""
    out = _ok(
        f"""
        import sys
        import openai
        from streamtap.testing import use_cassette
        assert 'httpx' not in sys.modules

        client = openai.OpenAI(api_key="unused", max_retries=0)
        with use_cassette({str(CASSETTES / "openai_chat_text.json")!r}) as cassette:
            stream = client.chat.completions.create(
                model="gpt-4o", messages=[{{"role": "user", "content": "Say hello"}}], stream=True
            )
            print("".join(e.choices[0].delta.content or "" for e in stream if e.choices))
        assert cassette.all_played
        import httpx, httpx2
        assert httpx is httpx2
        """
    )
    assert out.strip() == "Hello! How can I help you today?"
