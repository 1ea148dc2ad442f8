// A chat page on useStream (@langchain/langgraph-sdk/react 1.x), as LangChain's chat UIs use it:
// the URL names the assistant (?assistant=) and the thread (?thread=, kept on reload).
import { useEffect, useState } from "react";
import { createRoot } from "react-dom/client";
import { useStream } from "sdk1/react";

const params = new URLSearchParams(location.search);
window.__seen = []; // every text the last AI message showed, in order

function setThreadParam(threadId) {
  const url = new URL(location.href);
  url.searchParams.set("thread", threadId);
  history.replaceState(null, "", url);
}

function Message({ message, stream }) {
  const meta = stream.getMessagesMetadata(message);
  const parent = meta?.firstSeenState?.parent_checkpoint;
  const options = meta?.branchOptions ?? [];
  const at = options.indexOf(meta?.branch);
  return (
    <li className="msg" data-type={message.type} data-branches={options.length} data-branch-index={at}>
      <span className="content">{typeof message.content === "string" ? message.content : JSON.stringify(message.content)}</span>
      {message.type === "ai" && parent ? (
        <button className="regenerate" onClick={() => stream.submit(undefined, { checkpoint: parent })}>regenerate</button>
      ) : null}
      {message.type === "human" && parent ? (
        <button
          className="edit"
          onClick={() =>
            stream.submit({ messages: [{ type: "human", content: `${message.content} (edited)` }] }, { checkpoint: parent })
          }
        >
          edit
        </button>
      ) : null}
      {options.length > 1 ? (
        <>
          <button className="prev-branch" disabled={at <= 0} onClick={() => stream.setBranch(options[at - 1])}>prev</button>
          <button className="next-branch" disabled={at >= options.length - 1} onClick={() => stream.setBranch(options[at + 1])}>next</button>
        </>
      ) : null}
    </li>
  );
}

function App() {
  const [threadId, setThreadId] = useState(params.get("thread"));
  const [text, setText] = useState("");
  const [answer, setAnswer] = useState("");
  const [errors, setErrors] = useState([]);
  const stream = useStream({
    apiUrl: location.origin,
    apiKey: null,
    assistantId: params.get("assistant"),
    messagesKey: "messages",
    threadId,
    onThreadId: (id) => {
      setThreadId(id);
      setThreadParam(id);
    },
    fetchStateHistory: true,
    onError: (error) => setErrors((seen) => [...seen, String(error)]),
  });
  window.__stream = stream;
  const messages = stream.messages;
  const last = messages[messages.length - 1];
  const lastText = last?.type === "ai" ? String(last.content) : null;
  useEffect(() => {
    const seen = window.__seen;
    if (lastText && stream.isLoading && seen[seen.length - 1] !== lastText) seen.push(lastText);
  }, [lastText, stream.isLoading]);
  const interrupt = stream.interrupt;
  return (
    <main>
      <p id="status">{stream.isLoading ? "loading" : "idle"}</p>
      <p id="thread">{threadId ?? ""}</p>
      <p id="errors">{errors.join("\n")}</p>
      <ul id="messages">
        {messages.map((message, i) => (
          <Message key={message.id ?? i} message={message} stream={stream} />
        ))}
      </ul>
      {interrupt ? (
        <section id="interrupt">
          <span className="question">{interrupt.value?.question}</span>
          <input id="answer" value={answer} onChange={(e) => setAnswer(e.target.value)} />
          <button id="resume" onClick={() => stream.submit(undefined, { command: { resume: answer } })}>resume</button>
        </section>
      ) : null}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          window.__seen.length = 0;
          stream.submit({ messages: [{ type: "human", content: text }] });
          setText("");
        }}
      >
        <input id="input" value={text} onChange={(e) => setText(e.target.value)} />
        <button id="send" type="submit" disabled={stream.isLoading}>send</button>
        <button id="stop" type="button" onClick={() => stream.stop()}>stop</button>
      </form>
    </main>
  );
}

createRoot(document.getElementById("root")).render(<App />);
