"""Claude on AWS Bedrock and Google Vertex AI, through the ``anthropic`` SDK's own clients.

Both platforms serve the Anthropic Messages API: the request body is the same
(plus the platform's ``anthropic_version``), and so are the stream's events. On
Vertex they arrive as SSE; on Bedrock each event is the payload of an AWS
event-stream frame, which the SDK's Bedrock stream decodes back into the same
SSE events (its ``AWSEventStreamDecoder`` behind ``Stream._iter_events``). So
both models fold the stream with the Anthropic mapping, unchanged: the cache
token counts, the thinking signatures and the finish reasons come through
because the code follows the wire format, never the provider's name (the bug
that lost cache tokens on Bedrock and Vertex elsewhere keyed on the name).

What differs is the client: AWS SigV4 signing from the standard credential
chain (or explicit keys, a profile, a Bedrock API key) and Google OAuth (an
access token, google-auth credentials, or Application Default Credentials),
and the URL the SDK builds from the model id. Credentials are SecretStr fields,
handed to streamtap's one secret detector, so they never show in ``repr``,
``model_dump()``, errors or logs.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Sequence
from typing import Any, ClassVar

from langchain_core.language_models.model_profile import ModelProfile
from langchain_core.messages import AIMessageChunk, BaseMessage
from pydantic import AliasChoices, Field, PrivateAttr, SecretStr

from streamtap._log_mask import SecretMask, mask_loggers
from streamtap._secrets import MASK, redact_secrets, remember_secrets
from streamtap.errors import AuthenticationError, StreamtapError
from streamtap.providers._masking import AWS_LC_SECRETS
from streamtap.providers._profiles import (
    Continuation,
    aws_profile,
    known_profile,
    listed_unable,
    profile_names,
    refused,
)
from streamtap.providers._wire_stream import WireStream
from streamtap.providers.anthropic._events import MessagesMapper
from streamtap.providers.anthropic._model import AnthropicChatModel

__all__ = ["AnthropicBedrockModel", "AnthropicVertexModel"]


def _first_env(names: Sequence[str]) -> str | None:
    for name in names:
        if value := os.environ.get(name):
            return value
    return None


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


class _AuthLogMask(SecretMask):
    """The client-log mask, plus botocore's SigV4 ``Signature`` line, which has no
    credential shape but signs this very request (replayable for minutes)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg.startswith("Signature:"):
            record.args = (MASK,)
        return super().filter(record)


_AUTH_MASK = _AuthLogMask()


class _PlatformAnthropic(AnthropicChatModel):
    """What the Bedrock and Vertex models share: the Messages wire on a cloud's client.

    No Anthropic API key: the cloud's own credentials authenticate, so ``api_key``
    is neither required nor read from ``ANTHROPIC_API_KEY``.
    """

    requires_api_key: ClassVar[bool] = False
    api_key_env: ClassVar[tuple[str, ...]] = ()
    base_url_env: ClassVar[tuple[str, ...]] = ()

    #: What to check when the platform refuses the credentials (HTTP 401/403, none found).
    auth_hint: ClassVar[str] = ""

    anthropic_version: str = ""
    """The body's ``anthropic_version``; the platform documents which one it takes (the
    SDK would send the first-party API's date, which the platforms do not list)."""

    # -- the model id: the platform's spelling of a Claude model ------------------------
    def _claude_name(self) -> str:  # pragma: no cover - each platform spells it
        raise NotImplementedError

    def continuation_style(self) -> Continuation:
        """As the base class decides, with the model looked up by its Anthropic name:
        Claude 4.6 on Bedrock refuses a prefilled turn just as it does first-party."""
        if self.continuation is not None:
            style = self.continuation
        elif listed_unable(self._profile_source(), self._claude_name()):
            style = "none"
        else:
            style = self._wire_continuation()
        if style != "none" and refused(self.continuation_key()):
            return "none"
        return style

    # -- request ------------------------------------------------------------------------
    def _request(
        self, messages: Sequence[BaseMessage], stop: list[str] | None, **kwargs: Any
    ) -> dict[str, Any]:
        request = super()._request(messages, stop, **kwargs)
        # Not a create() argument: travels in extra_body, which the SDK merges into the
        # body before its platform hook, whose setdefault then keeps this value.
        request.setdefault("anthropic_version", self.anthropic_version)
        return request

    # -- client -------------------------------------------------------------------------
    def _common_kwargs(self, *, is_async: bool) -> dict[str, Any]:
        """The base client options (timeout, retries, headers, http_client, base_url),
        without the Anthropic key the base class always fills in."""
        kwargs = super()._client_kwargs(is_async=is_async)
        kwargs.pop("api_key", None)
        return kwargs

    def _platform_secrets(self) -> list[str | None]:
        return []

    #: Loggers of the platform's auth library that write credentials at DEBUG.
    auth_loggers: ClassVar[tuple[str, ...]] = ()

    def _remember_credentials(self) -> None:
        super()._remember_credentials()
        remember_secrets(*self._platform_secrets())
        mask_loggers(_AUTH_MASK, self.auth_loggers)

    def _auth_error(self, exc: Exception) -> AuthenticationError | None:  # pragma: no cover
        return None

    def _map_error(self, exc: Exception) -> BaseException:
        mapped: BaseException | None = self._auth_error(exc)
        if mapped is not None:
            mapped.__cause__ = exc
        else:
            mapped = super()._map_error(exc)
        if isinstance(mapped, AuthenticationError):
            # The base hint speaks of an API key; here the cloud's identity is at fault.
            mapped.hint = self.auth_hint
            mapped.args = (mapped._render(),)
        return mapped

    def _new_run(self, stop: list[str] | None = None) -> WireStream:
        # The base class names a model by its wire when it keeps its default provider
        # name; a platform's errors name the platform ("anthropic-bedrock/<model>").
        run = super()._new_run(stop)
        run.provider = self.provider_name
        return run

    def _auth(self, what: str, exc: Exception) -> AuthenticationError:
        detail = redact_secrets(f"{what}: {type(exc).__name__}: {exc}", self._secret())
        return AuthenticationError(detail, provider=self.provider_name, model=self.model)


# --------------------------------------------------------------------------- Bedrock

#: ``[region.]anthropic.<name>[-v1[:0]]``, possibly the tail of an inference-profile ARN.
_BEDROCK_ID = re.compile(r"(?:^|\.)anthropic\.(?P<name>.+?)(?:-v\d+(?::\d+)?)?$")

_AWS_SECRET_ENV = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_BEARER_TOKEN_BEDROCK")


#: Bedrock's own addition to the last event (token counts, latencies), kept under this name.
INVOCATION_METRICS = "amazon-bedrock-invocationMetrics"


class BedrockMessagesMapper(MessagesMapper):
    """The Anthropic fold, keeping what Bedrock adds to ``message_stop``: its
    ``amazon-bedrock-invocationMetrics`` (latencies included) land in the last chunk's
    ``response_metadata`` under that name, rather than being dropped."""

    def feed(self, event: dict[str, Any]) -> list[AIMessageChunk]:
        if event.get("type") == "message_stop":
            metrics = event.get(INVOCATION_METRICS)
            if metrics is not None:
                self.extra_metadata[INVOCATION_METRICS] = metrics
        return super().feed(event)


class AnthropicBedrockModel(_PlatformAnthropic):
    """Claude on Amazon Bedrock (``InvokeModelWithResponseStream``) via ``AnthropicBedrock``.

    Credentials come from AWS's standard chain (environment, ``~/.aws`` profiles,
    SSO, instance and container roles) unless given: explicit keys, ``aws_profile=``,
    or a Bedrock API key (``api_key=`` or ``AWS_BEARER_TOKEN_BEDROCK``, sent as a
    bearer token instead of SigV4). ``model`` is the Bedrock model or inference-profile
    id, e.g. ``"anthropic.claude-sonnet-4-6-v1:0"`` or ``"us.anthropic.claude-..."``.
    """

    provider_name: str = "anthropic-bedrock"
    base_url_env: ClassVar[tuple[str, ...]] = ("ANTHROPIC_BEDROCK_BASE_URL",)
    sdk_modules: ClassVar[tuple[str, ...]] = ("boto3", "botocore")
    region_env: ClassVar[tuple[str, ...]] = ("AWS_REGION", "AWS_DEFAULT_REGION")
    #: botocore logs the canonical request (the session token in it) and the signature.
    auth_loggers: ClassVar[tuple[str, ...]] = ("botocore.auth", "botocore.credentials")
    auth_hint: ClassVar[str] = (
        "check the AWS credentials (keys, aws_profile=, role) and that the account has "
        "access to this model in the region (Bedrock console: Model access)"
    )

    anthropic_version: str = "bedrock-2023-05-31"
    aws_region: str | None = Field(
        default=None, validation_alias=AliasChoices("aws_region", "region_name")
    )
    """AWS region; else ``AWS_REGION`` / ``AWS_DEFAULT_REGION``, else the profile's."""
    aws_access_key_id: SecretStr | None = None
    aws_secret_access_key: SecretStr | None = None
    aws_session_token: SecretStr | None = None
    aws_profile: str | None = Field(
        default=None, validation_alias=AliasChoices("aws_profile", "credentials_profile_name")
    )
    """A named profile of ``~/.aws/config``."""

    def model_post_init(self, context: Any, /) -> None:
        super().model_post_init(context)
        if self.aws_region is None:
            self.aws_region = _first_env(self.region_env)

    @property
    def _llm_type(self) -> str:
        return "streamtap-anthropic-bedrock"

    @property
    def lc_secrets(self) -> dict[str, str]:
        return dict(AWS_LC_SECRETS)

    def _new_mapper(self, stop: list[str] | None = None) -> MessagesMapper:
        return BedrockMessagesMapper(model_provider=self.provider_name)

    def _claude_name(self) -> str:
        tail = self.model.rpartition("/")[2]  # an inference-profile ARN ends in the id
        found = _BEDROCK_ID.search(tail)
        return found.group("name") if found else tail

    def _resolve_model_profile(self) -> ModelProfile | None:
        return aws_profile(self.model)  # ChatAnthropicBedrock's table: Bedrock's model ids

    def _client_class(self, *, is_async: bool) -> Any:
        import anthropic

        return anthropic.AsyncAnthropicBedrock if is_async else anthropic.AnthropicBedrock

    def _client_kwargs(self, *, is_async: bool) -> dict[str, Any]:
        kwargs = self._common_kwargs(is_async=is_async)
        if self.api_key is not None:
            kwargs["api_key"] = self.api_key.get_secret_value()
        for option, value in (
            ("aws_region", self.aws_region),
            ("aws_profile", self.aws_profile),
            ("aws_access_key", _secret(self.aws_access_key_id)),
            ("aws_secret_key", _secret(self.aws_secret_access_key)),
            ("aws_session_token", _secret(self.aws_session_token)),
        ):
            if value is not None:
                kwargs[option] = value
        return kwargs

    def _platform_secrets(self) -> list[str | None]:
        # The key id too: not a secret by AWS's rules, but an account identifier that
        # streamtap's leak tests treat as one. Credentials the chain reads from the
        # environment are masked as well, though this model never holds them.
        return [
            _secret(self.aws_access_key_id),
            _secret(self.aws_secret_access_key),
            _secret(self.aws_session_token),
            *(os.environ.get(name) for name in _AWS_SECRET_ENV),
        ]

    def _map_error(self, exc: Exception) -> BaseException:
        mapped = super()._map_error(exc)
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None)
        if isinstance(mapped, StreamtapError) and headers is not None:
            # Bedrock names its request and error in its own headers, not Anthropic's.
            if mapped.request_id is None and (rid := headers.get("x-amzn-requestid")):
                mapped.request_id = rid
            if mapped.error_type is None and (kind := headers.get("x-amzn-errortype")):
                mapped.error_type = kind.partition(":")[0]  # "ThrottlingException:http://..."
            mapped.args = (mapped._render(),)
        return mapped

    def _auth_error(self, exc: Exception) -> AuthenticationError | None:
        """botocore only resolves credentials and signs here (httpx2 does the HTTP), so any
        botocore error is a credentials problem: no credentials, a missing profile, an
        expired SSO token."""
        if type(exc).__module__.partition(".")[0] == "botocore":
            return self._auth("AWS credentials could not be used", exc)
        if isinstance(exc, RuntimeError) and "AWS credentials" in str(exc):
            return self._auth("no AWS credentials found (env, ~/.aws, role)", exc)
        return None


# --------------------------------------------------------------------------- Vertex AI

_CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"


class AnthropicVertexModel(_PlatformAnthropic):
    """Claude on Google Vertex AI (``:streamRawPredict``) via ``AnthropicVertex``.

    Authenticates with ``access_token=`` (an OAuth bearer token), ``credentials=``
    (google-auth credentials), or else Application Default Credentials. ``model`` is
    the Vertex model id, e.g. ``"claude-sonnet-4-6"`` or ``"claude-sonnet-4-5@20250929"``.
    """

    provider_name: str = "anthropic-vertex"
    base_url_env: ClassVar[tuple[str, ...]] = ("ANTHROPIC_VERTEX_BASE_URL",)
    sdk_modules: ClassVar[tuple[str, ...]] = ("google.auth",)
    project_env: ClassVar[tuple[str, ...]] = ("ANTHROPIC_VERTEX_PROJECT_ID", "GOOGLE_CLOUD_PROJECT")
    region_env: ClassVar[tuple[str, ...]] = ("CLOUD_ML_REGION", "GOOGLE_CLOUD_LOCATION")
    auth_loggers: ClassVar[tuple[str, ...]] = (
        "google.auth.transport.requests",
        "google.auth._default",
        "google.auth.compute_engine._metadata",
    )
    auth_hint: ClassVar[str] = (
        "check the Google credentials (access_token=, credentials=, or `gcloud auth "
        "application-default login`) and that the project has enabled this Claude model"
    )

    anthropic_version: str = "vertex-2023-10-16"
    project_id: str | None = None
    """Google Cloud project; else ``ANTHROPIC_VERTEX_PROJECT_ID`` / ``GOOGLE_CLOUD_PROJECT``,
    else the one Application Default Credentials name."""
    region: str | None = Field(default=None, validation_alias=AliasChoices("region", "location"))
    """Vertex location (``us-east5``, ``europe-west1``, ``global``); else ``CLOUD_ML_REGION``
    / ``GOOGLE_CLOUD_LOCATION``."""
    access_token: SecretStr | None = None
    credentials: Any = Field(default=None, exclude=True, repr=False)
    """``google.auth.credentials.Credentials``; refreshed by the SDK when expired."""

    #: Application Default Credentials and their project, once looked up (see ``_adc``).
    _found_adc: tuple[Any, str | None] | None = PrivateAttr(default=None)

    def model_post_init(self, context: Any, /) -> None:
        if self.api_key is not None:
            # AnthropicVertex has no API-key auth; silently ignoring one would send the
            # request with other credentials than the caller believes.
            raise ValueError(
                "Claude on Vertex AI takes no api_key: pass access_token= or credentials=, "
                "or use Application Default Credentials"
            )
        super().model_post_init(context)
        if self.project_id is None:
            self.project_id = _first_env(self.project_env)
        if self.region is None:
            self.region = _first_env(self.region_env)

    @property
    def _llm_type(self) -> str:
        return "streamtap-anthropic-vertex"

    @property
    def lc_secrets(self) -> dict[str, str]:
        return {"access_token": "GOOGLE_OAUTH_ACCESS_TOKEN"}

    def _claude_name(self) -> str:
        return self.model.partition("@")[0]  # "claude-sonnet-4-5@20250929"

    def _resolve_model_profile(self) -> ModelProfile | None:
        # ChatAnthropicVertex's: Vertex's keys are versioned ("claude-sonnet-4-6@default");
        # a bare name finds its version when the table has exactly one.
        profile = known_profile("google_vertexai", self.model)
        if profile is None:
            versions = [
                n for n in profile_names("google_vertexai") if n.startswith(f"{self.model}@")
            ]
            if len(versions) == 1:
                profile = known_profile("google_vertexai", versions[0])
        return profile

    def _client_class(self, *, is_async: bool) -> Any:
        import anthropic

        return anthropic.AsyncAnthropicVertex if is_async else anthropic.AnthropicVertex

    def _client_kwargs(self, *, is_async: bool) -> dict[str, Any]:
        if not self.region:
            raise ValueError(
                "no Vertex AI region: pass region= or set CLOUD_ML_REGION or GOOGLE_CLOUD_LOCATION"
            )
        kwargs = self._common_kwargs(is_async=is_async)
        kwargs["region"] = self.region
        credentials = self.credentials
        project = self.project_id
        token = _secret(self.access_token)
        if self._needs_adc():
            found, adc_project = self._adc()
            credentials = credentials or found
            project = project or adc_project
        if project:
            kwargs["project_id"] = project
        if token is not None:
            kwargs["access_token"] = token
        elif credentials is not None:
            kwargs["credentials"] = credentials
        return kwargs

    def _needs_adc(self) -> bool:
        return self.access_token is None and (self.credentials is None or self.project_id is None)

    def _adc(self) -> tuple[Any, str | None]:
        """Application Default Credentials, looked up once per model.

        The SDK needs the project before it would load them (it builds the URL first), so
        they are resolved before its client is built. The lookup can reach the metadata
        server: ``_aprepare`` does it on a worker thread for the async client."""
        if self._found_adc is None:
            self._found_adc = _default_credentials()
        return self._found_adc

    async def _aprepare(self) -> None:
        if self._found_adc is None and self._needs_adc():
            self._found_adc = await asyncio.to_thread(_default_credentials)

    def _body_read_timeout(self) -> float | None:
        # Read from the options rather than a built client, which would look up ADC.
        import anthropic
        import httpx2

        timeout = self.timeout if self.timeout is not None else anthropic.DEFAULT_TIMEOUT
        return timeout.read if isinstance(timeout, httpx2.Timeout) else float(timeout)

    def _platform_secrets(self) -> list[str | None]:
        return [_secret(self.access_token)]

    def _auth_error(self, exc: Exception) -> AuthenticationError | None:
        if type(exc).__module__.startswith("google.auth"):
            return self._auth("Google credentials could not be used", exc)
        if isinstance(exc, RuntimeError) and ("API token" in str(exc) or "project_id" in str(exc)):
            return self._auth("no Google credentials or project found", exc)
        return None


def _default_credentials() -> tuple[Any, str | None]:
    """Application Default Credentials and their project (google-auth's ``default()``)."""
    import google.auth

    credentials, project = google.auth.default(scopes=[_CLOUD_PLATFORM])
    return credentials, project
