"""Amazon Bedrock's Converse stream: the event fold (``_events``), requests (``_request``),
botocore's errors (``_errors``) and the model (``_model``).

Importing the package registers the translator of botocore's exceptions (and of the
HTTP clients under boto3 / aiobotocore) with ``streamtap.errors``; no SDK is imported.
"""

from streamtap.errors import register_sdk_errors
from streamtap.providers.bedrock._errors import translate_botocore, translate_transport
from streamtap.providers.bedrock._events import WIRE, ConverseMapper
from streamtap.providers.bedrock._model import BedrockChatModel
from streamtap.providers.bedrock._request import to_converse_messages

register_sdk_errors("botocore", translate_botocore)
register_sdk_errors("aiobotocore", translate_botocore)  # AioReadTimeoutError lives there
register_sdk_errors("urllib3", translate_transport)
register_sdk_errors("aiohttp", translate_transport)

__all__ = ["WIRE", "BedrockChatModel", "ConverseMapper", "to_converse_messages"]
