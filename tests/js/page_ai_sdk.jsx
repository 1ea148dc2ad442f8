// A chat page on @ai-sdk/react's useChat (the `ai` package's DefaultChatTransport), for
// tests/server/test_ai_sdk_browser.py. The URL names the graph (?graph=) and the chat
// (?chat=, the thread; kept on reload: useChat's `resume` then reattaches to its run).
// What the page shows is also in window.__state (status, error, messages with their parts);
// window.__chat is the useChat helpers, window.__stopRun stops the run on the server.
import { useState } from "react";
import { createRoot } from "react-dom/client";
import { useChat } from "@ai-sdk/react";
import { DefaultChatTransport } from "ai";

const params = new URLSearchParams(location.search);
const graph = params.get("graph");
const chatId = params.get("chat");
const api = `${location.origin}/ai-sdk/${graph}/chat`;
const transport = new DefaultChatTransport({ api });
window.__finished = []; // onFinish: {isAbort, isDisconnect, isError, finishReason}, in order
window.__data = []; // onData: every data part as it arrived
window.__stopRun = () => fetch(`${api}/${chatId}/stop`, { method: "POST" }).then((r) => r.json());

function Part({ part }) {
  if (part.type === "text") return <span className="text">{part.text}</span>;
  if (part.type === "reasoning") return <em className="reasoning">{part.text}</em>;
  if (part.type.startsWith("tool-"))
    return (
      <code className="tool" data-state={part.state}>
        {part.type.slice(5)}({JSON.stringify(part.input)}) = {JSON.stringify(part.output ?? null)}
      </code>
    );
  if (part.type === "data-interrupt")
    return <q className="interrupt">{JSON.stringify(part.data.payload)}</q>;
  if (part.type.startsWith("data-"))
    return <small className="data">{JSON.stringify(part.data)}</small>;
  return null;
}

function App() {
  const [input, setInput] = useState("");
  const chat = useChat({
    id: chatId,
    transport,
    resume: params.get("resume") === "1",
    onFinish: ({ isAbort, isDisconnect, isError, finishReason }) =>
      window.__finished.push({ isAbort, isDisconnect, isError, finishReason: finishReason ?? null }),
    onData: (part) => window.__data.push(part),
  });
  window.__chat = chat;
  window.__state = {
    status: chat.status,
    error: chat.error ? String(chat.error.message ?? chat.error) : null,
    // through JSON: the parts as they would be stored (no undefined fields)
    messages: JSON.parse(JSON.stringify(chat.messages.map((m) => ({ role: m.role, parts: m.parts })))),
  };
  const last = chat.messages[chat.messages.length - 1];
  const interrupt = last?.parts.find((p) => p.type === "data-interrupt");
  return (
    <main>
      <p id="status">{chat.status}</p>
      <p id="error">{window.__state.error ?? ""}</p>
      <ul id="messages">
        {chat.messages.map((m) => (
          <li key={m.id} data-role={m.role}>
            {m.parts.map((part, i) => (
              <Part key={i} part={part} />
            ))}
          </li>
        ))}
      </ul>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          chat.sendMessage(
            { text: input },
            interrupt && last.role === "assistant" ? { body: { resume: input } } : undefined,
          );
          setInput("");
        }}
      >
        <input id="input" value={input} onChange={(e) => setInput(e.target.value)} />
        <button id="send" type="submit">
          {interrupt ? "Answer" : "Send"}
        </button>
        <button id="stop" type="button" onClick={() => window.__stopRun()}>
          Stop
        </button>
      </form>
    </main>
  );
}

createRoot(document.getElementById("root")).render(<App />);
