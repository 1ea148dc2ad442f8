"""Compare streamtap's ``model.profile`` with LangChain's own integrations, model by model.

Run in an environment that has the partner packages installed (they are not streamtap's
dependencies: ``make profiles-oracle`` builds one under ``.tools/profiles-oracle``). For
every model name each integration's table knows, plus the spellings its lookup accepts
(a cross-region prefix on Bedrock, ``models/`` and ``-001`` on Gemini, a bare name on
Claude on Vertex), the LangChain class and the streamtap spec must give equal profiles.
Prints one line per vendor (names compared, differences) and exits 1 on any difference.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Callable, Iterable
from typing import Any

KEY = "sk-oracle-" + "0" * 32


def _google_credentials() -> Any:
    from google.oauth2.credentials import Credentials

    return Credentials(token="ya29.oracle")  # type: ignore[no-untyped-call]


def _table(package: str) -> dict[str, Any]:
    module = __import__(f"{package}.data._profiles", fromlist=["_PROFILES"])
    return dict(module._PROFILES)


def _cases() -> list[tuple[str, Iterable[str], Callable[[str], Any], Callable[[str], Any]]]:
    from langchain_aws import ChatBedrockConverse
    from langchain_aws.chat_models.anthropic import ChatAnthropicBedrock
    from langchain_fireworks import ChatFireworks
    from langchain_google_genai import ChatGoogleGenerativeAI
    from langchain_google_vertexai import ChatVertexAI
    from langchain_google_vertexai.model_garden import ChatAnthropicVertex
    from langchain_mistralai import ChatMistralAI
    from langchain_openai import AzureChatOpenAI
    from langchain_xai import ChatXAI

    import streamtap

    aws = {
        "region_name": "us-east-1",
        "aws_access_key_id": "AKIAORACLE",
        "aws_secret_access_key": "x" * 40,
    }
    st_aws = {
        "region_name": "us-east-1",
        "aws_access_key_id": "AKIAORACLE",
        "aws_secret_access_key": "x" * 40,
    }
    bedrock = sorted(_table("langchain_aws"))
    geo = [f"us.{n}" for n in bedrock if n.startswith("anthropic.")] + [
        f"eu.{n}" for n in bedrock[:20]
    ]
    genai = sorted(_table("langchain_google_genai"))
    vertex = sorted(_table("langchain_google_vertexai"))
    claude_vertex = [n for n in vertex if n.startswith("claude")]
    bare = sorted({n.partition("@")[0] for n in claude_vertex})
    openai_names = sorted(_table("langchain_openai"))

    def azure_oracle(name: str) -> Any:
        return AzureChatOpenAI(
            azure_deployment=name,
            api_key=KEY,
            azure_endpoint="https://r.openai.azure.com",
            api_version="2024-10-21",
        ).profile

    return [
        (
            "gemini",
            genai + [f"models/{n}" for n in genai] + [f"{n}-001" for n in genai[:10]],
            lambda n: ChatGoogleGenerativeAI(model=n, google_api_key=KEY).profile,
            lambda n: streamtap.chat_model(f"gemini:{n}", api_key=KEY).profile,
        ),
        (
            "vertex",
            [n for n in vertex if not n.startswith("claude")],
            lambda n: (
                ChatVertexAI(
                    model=n, project="p", location="us-central1", credentials=_google_credentials()
                ).profile
            ),
            lambda n: (
                streamtap.chat_model(
                    f"vertex:{n}",
                    project="p",
                    location="us-central1",
                    credentials=_google_credentials(),
                ).profile
            ),
        ),
        (
            "anthropic-vertex",
            claude_vertex + bare,
            lambda n: (
                ChatAnthropicVertex(
                    model_name=n,
                    project="p",
                    location="us-east5",
                    credentials=_google_credentials(),
                ).profile
            ),
            lambda n: (
                streamtap.chat_model(
                    f"anthropic-vertex:{n}",
                    project_id="p",
                    region="us-east5",
                    access_token="ya29.oracle",
                ).profile
            ),
        ),
        (
            "bedrock",
            bedrock + geo,
            lambda n: ChatBedrockConverse(model=n, **aws).profile,
            lambda n: streamtap.chat_model(f"bedrock:{n}", **st_aws).profile,
        ),
        (
            "anthropic-bedrock",
            [n for n in bedrock if n.startswith("anthropic.")] + geo[:20],
            lambda n: (
                ChatAnthropicBedrock(
                    model=n,
                    region="us-east-1",
                    aws_access_key="AKIAORACLE",
                    aws_secret_key="x" * 40,
                ).profile
            ),
            lambda n: (
                streamtap.chat_model(
                    f"anthropic-bedrock:{n}",
                    aws_region="us-east-1",
                    aws_access_key_id="AKIAORACLE",
                    aws_secret_access_key="x" * 40,
                ).profile
            ),
        ),
        (
            "azure",
            openai_names,
            azure_oracle,
            lambda n: (
                streamtap.chat_model(
                    f"azure:{n}", api_key=KEY, azure_endpoint="https://r.openai.azure.com"
                ).profile
            ),
        ),
        (
            "mistral",
            sorted(_table("langchain_mistralai")),
            lambda n: ChatMistralAI(model=n, api_key=KEY).profile,
            lambda n: streamtap.chat_model(f"mistral:{n}", api_key=KEY).profile,
        ),
        (
            "xai",
            sorted(_table("langchain_xai")),
            lambda n: ChatXAI(model=n, api_key=KEY).profile,
            lambda n: streamtap.chat_model(f"xai:{n}", api_key=KEY).profile,
        ),
        (
            "fireworks",
            sorted(_table("langchain_fireworks")),
            lambda n: ChatFireworks(model=n, api_key=KEY).profile,
            lambda n: streamtap.chat_model(f"fireworks:{n}", api_key=KEY).profile,
        ),
    ]


def main() -> int:
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    warnings.simplefilter("ignore")  # the classes' deprecation and parameter notices
    logging.disable(logging.WARNING)  # langchain-aws's "Streaming disabled for model ..."
    failed = total = 0
    for vendor, names, oracle, ours in _cases():
        compared = differ = 0
        for name in names:
            want = oracle(name) or None  # LangChain's {} for an unknown model is our None
            got = ours(name)
            compared += 1
            if got != want:
                differ += 1
                if differ <= 3:
                    print(f"  {vendor}:{name}: streamtap {got!r}\n    LangChain {want!r}")
        failed += differ
        total += compared
        print(f"{vendor}: {compared} model names compared, {differ} differ")
    print(f"all: {total} model names compared, {failed} differ")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
