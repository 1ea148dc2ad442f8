// A chat page on @langchain/react v1's useStream (the v2 "session" runtime of
// @langchain/langgraph-sdk 1.11, over the Agent Streaming Protocol), for
// tests/server/test_use_stream_v1.py. The URL names the assistant (?assistant=), the
// transport (?transport=sse|websocket) and the thread (?thread=, kept on reload).
import { useEffect, useState } from "react";
import { createRoot } from "react-dom/client";
import { useStream } from "@langchain/react";

const params = new URLSearchParams(location.search);
window.__seen = []; // every text the last AI message showed while the run was loading, in order
window.__completed = []; // onCompleted reasons, in order

function setThreadParam(threadId) {
  const url = new URL(location.href);
  url.searchParams.set("thread", threadId);
  history.replaceState(null, "", url);
}

function App() {
  const [threadId, setThreadId] = useState(params.get("thread"));
  const [input, setInput] = useState("");
  const [answer, setAnswer] = useState("");
  const stream = useStream({
    apiUrl: location.origin,
    assistantId: params.get("assistant"),
    transport: params.get("transport") ?? "sse",
    threadId,
    onThreadId: (id) => {
      setThreadId(id);
      setThreadParam(id);
    },
    onCompleted: ({ reason }) => window.__completed.push(reason),
  });
  window.__stream = stream;
  const messages = stream.messages;
  const last = messages[messages.length - 1];
  const lastText = last && last.type === "ai" ? last.text : null;
  useEffect(() => {
    const seen = window.__seen;
    if (lastText && stream.isLoading && seen[seen.length - 1] !== lastText) seen.push(lastText);
  }, [lastText, stream.isLoading]);
  const interrupt = stream.interrupt;
  return (
    <main>
      <p id="status">{stream.isThreadLoading ? "hydrating" : stream.isLoading ? "loading" : "idle"}</p>
      <p id="thread">{threadId ?? ""}</p>
      <p id="errors">{stream.error ? String(stream.error?.message ?? stream.error) : ""}</p>
      <ul id="messages">
        {messages.map((message, i) => (
          <li
            key={message.id ?? i}
            data-type={message.type}
            data-tool-calls={JSON.stringify((message.tool_calls ?? []).map((c) => [c.name, c.args, c.id]))}
          >
            <span className="content">{message.text}</span>
          </li>
        ))}
      </ul>
      <ul id="toolcalls">
        {stream.toolCalls.map((call) => (
          <li key={call.callId} data-status={call.status}>
            <span className="name">{call.name}</span>
            <span className="args">{JSON.stringify(call.args)}</span>
            <span className="output">{call.output == null ? "" : JSON.stringify(call.output)}</span>
          </li>
        ))}
      </ul>
      {interrupt ? (
        <section id="interrupt">
          <span className="payload">{JSON.stringify(interrupt.value)}</span>
          <input id="answer" value={answer} onChange={(e) => setAnswer(e.target.value)} />
          <button id="respond" onClick={() => stream.respond(answer)}>respond</button>
        </section>
      ) : null}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          window.__seen.length = 0;
          stream.submit({ messages: [{ type: "human", content: input }] });
          setInput("");
        }}
      >
        <input id="input" value={input} onChange={(e) => setInput(e.target.value)} />
        <button id="send" type="submit" disabled={stream.isLoading}>send</button>
        <button id="stop" type="button" onClick={() => stream.stop()}>stop</button>
      </form>
    </main>
  );
}

createRoot(document.getElementById("root")).render(<App />);
