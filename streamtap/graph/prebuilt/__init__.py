"""``langgraph.prebuilt`` for streamtap.graph: ``ToolNode``, ``tools_condition``,
``create_react_agent``, ``InjectedState``, ``InjectedStore``, ``ToolRuntime``,
``ValidationNode`` ...

Ports by changing ``langgraph.prebuilt`` imports to ``streamtap.graph.prebuilt``. The
components are langgraph-prebuilt's own (plain runnables and tool annotations: a streamtap
graph gives them the config they read, see ``streamtap.graph._prebuilt_compat``);
``create_react_agent`` builds its graph with streamtap.graph's ``StateGraph``. Importing this
module imports ``langgraph.prebuilt`` (and with it LangGraph's runtime), which is why
``import streamtap.graph`` does not import it.
"""

from langgraph.prebuilt import ToolCallTransformer, ValidationNode
from langgraph.prebuilt.chat_agent_executor import (
    AgentState,
    AgentStatePydantic,
    AgentStateWithStructuredResponse,
    AgentStateWithStructuredResponsePydantic,
    Prompt,
    StateSchema,
    StateSchemaType,
    StructuredResponse,
    StructuredResponseSchema,
)
from langgraph.prebuilt.interrupt import (
    ActionRequest,
    HumanInterrupt,
    HumanInterruptConfig,
    HumanResponse,
)
from langgraph.prebuilt.tool_node import (
    INVALID_TOOL_NAME_ERROR_TEMPLATE,
    TOOL_CALL_ERROR_TEMPLATE,
    TOOL_EXECUTION_ERROR_TEMPLATE,
    TOOL_INVOCATION_ERROR_TEMPLATE,
    AsyncToolCallWrapper,
    InjectedState,
    InjectedStore,
    ToolCallRequest,
    ToolCallWithContext,
    ToolCallWrapper,
    ToolInvocationError,
    ToolNode,
    ToolRuntime,
    msg_content_output,
    tools_condition,
)

from streamtap.graph._prebuilt_compat import check_prebuilt, install
from streamtap.graph.prebuilt._react_agent import create_react_agent, create_tool_calling_executor

check_prebuilt()
install()

__all__ = [
    "INVALID_TOOL_NAME_ERROR_TEMPLATE",
    "TOOL_CALL_ERROR_TEMPLATE",
    "TOOL_EXECUTION_ERROR_TEMPLATE",
    "TOOL_INVOCATION_ERROR_TEMPLATE",
    "ActionRequest",
    "AgentState",
    "AgentStatePydantic",
    "AgentStateWithStructuredResponse",
    "AgentStateWithStructuredResponsePydantic",
    "AsyncToolCallWrapper",
    "HumanInterrupt",
    "HumanInterruptConfig",
    "HumanResponse",
    "InjectedState",
    "InjectedStore",
    "Prompt",
    "StateSchema",
    "StateSchemaType",
    "StructuredResponse",
    "StructuredResponseSchema",
    "ToolCallRequest",
    "ToolCallTransformer",
    "ToolCallWithContext",
    "ToolCallWrapper",
    "ToolInvocationError",
    "ToolNode",
    "ToolRuntime",
    "ValidationNode",
    "create_react_agent",
    "create_tool_calling_executor",
    "msg_content_output",
    "tools_condition",
]
