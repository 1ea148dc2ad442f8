// @ag-ui/client's HttpAgent against a streamtap server (tests/server/test_ag_ui_client.py).
// usage: node ag_ui_client.mjs <base url> <graph> <scenario: run | interrupt | error | abort>
// stdout: one JSON document: the events each run saw, the agent's messages and state after.
import { HttpAgent } from "@ag-ui/client";

const [base, graph, scenario] = process.argv.slice(2);
const agent = new HttpAgent({ url: `${base}/ag-ui/${graph}`, threadId: `t-${graph}-${scenario}-${Date.now()}` });
const runs = [];
let events = [];
agent.subscribe({ onEvent: ({ event }) => { events.push(event); } });

async function run(params) {
  events = [];
  let error = null;
  try {
    await agent.runAgent(params);
  } catch (e) {
    error = String(e && e.message ? e.message : e);
  }
  runs.push({ events, error, pendingInterrupts: agent.pendingInterrupts });
}

agent.addMessage({ id: "user-1", role: "user", content: "hi" });
if (scenario === "abort") {
  agent.subscribe({
    onTextMessageContentEvent: () => { if (events.length < 1000) agent.abortRun(); },
  });
}
await run();
if (scenario === "interrupt") {
  const [pending] = agent.pendingInterrupts;
  await run({ resume: [{ interruptId: pending.id, status: "resolved", payload: "yes" }] });
}
if (scenario === "run") {  // a second turn: only the new message goes in
  agent.addMessage({ id: "user-2", role: "user", content: "again" });
  await run();
}
process.stdout.write(JSON.stringify({ threadId: agent.threadId, runs, messages: agent.messages, state: agent.state }));
