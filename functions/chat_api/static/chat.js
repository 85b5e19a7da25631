// The chat page: POST /chat with fetch and read the server-sent events from the response body as they arrive
// (EventSource cannot POST). Every URL is relative, so the page works at / locally and under the API Gateway
// stage path (/dev/) deployed. No dependencies, no build step.
"use strict";

const SESSION_KEY = "claude-kit.session";
const USER_KEY = "claude-kit.user";
const API_KEY_KEY = "claude-kit.api-key";

const $ = (id) => document.getElementById(id);
const state = { config: null, sessionId: sessionStorage.getItem(SESSION_KEY), busy: false };

// ---- identity: a user name locally (x-kit-user-id), the API key deployed (x-api-key) ----

function identityStore() {
  // A user name is not a secret: kept across visits. An API key is kept for this tab only.
  return state.config.identity === "local_user" ? [localStorage, USER_KEY] : [sessionStorage, API_KEY_KEY];
}

function identityHeaders() {
  const value = $("identity").value.trim();
  return value ? { [state.config.identity_header]: value } : {};
}

function setUpIdentity() {
  const local = state.config.identity === "local_user";
  $("identity-label").textContent = local ? "User name" : "API key";
  $("identity").type = local ? "text" : "password";
  $("identity").placeholder = local ? "e.g. alice" : "x-api-key value";
  const [store, key] = identityStore();
  $("identity").value = store.getItem(key) || "";
  $("identity").addEventListener("input", () => store.setItem(key, $("identity").value.trim()));
}

// ---- the transcript ----

function addTurn(role, text = "") {
  const turn = document.createElement("article");
  turn.className = `turn ${role}`;
  const body = document.createElement("span");
  body.className = "text";
  body.textContent = text;
  turn.append(body);
  $("transcript").append(turn);
  turn.scrollIntoView({ block: "end" });
  return turn;
}

function addLine(turn, className, text) {
  const line = document.createElement("span");
  line.className = className;
  line.textContent = text;
  turn.append(line);
  turn.scrollIntoView({ block: "end" });
  return line;
}

function setSession(sessionId) {
  state.sessionId = sessionId;
  if (sessionId) sessionStorage.setItem(SESSION_KEY, sessionId);
  else sessionStorage.removeItem(SESSION_KEY);
  $("session").textContent = sessionId ? `session ${sessionId}` : "new session";
}

// ---- words for what went wrong ----

const HINTS = {
  unauthenticated: () =>
    state.config.identity === "local_user" ? "Enter a user name above." : "Enter your API key above.",
  quota_exceeded: () => "Your daily allowance resets at midnight UTC; an operator can raise it.",
  spend_guard_closed: () => "Nothing was sent to Claude. An operator reopens the service when the budget allows.",
  session_not_found: () => "This conversation is gone (expired or deleted): start a new chat.",
  concurrent_turn: () => "Another message reached this conversation at the same time: send yours again.",
};

function describeError(error, status) {
  const label = status ? `Refused (${status} ${error.type})` : `Failed (${error.type})`;
  const fields = (error.fields || []).map((f) => `${f.field}: ${f.problem}`).join("; ");
  const hint = HINTS[error.type] ? ` ${HINTS[error.type]()}` : "";
  return `${label}: ${error.message}${fields ? ` (${fields})` : ""}.${hint}`;
}

async function describeResponse(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON: a proxy's or gateway's page
  }
  if (body && body.error && body.error.type) return describeError(body.error, response.status);
  // API Gateway's own refusals ({"message": "Forbidden"}) come before the app sees the request.
  const gateway = {
    403: "The API key is missing or not valid for this API.",
    429: "This API key's request rate or daily request quota is used up; try again later.",
  };
  const detail = (body && body.message) || response.statusText || "no details";
  return `Refused (${response.status}): ${gateway[response.status] || detail}`;
}

// ---- server-sent events over fetch ----

async function* serverSentEvents(stream) {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    const frames = buffer.replace(/\r\n?/g, "\n").split("\n\n");
    buffer = frames.pop();
    for (const frame of frames) {
      const event = parseFrame(frame);
      if (event) yield event;
    }
  }
}

function parseFrame(frame) {
  let name = "message";
  const data = [];
  for (const line of frame.split("\n")) {
    if (!line || line.startsWith(":")) continue; // comments are keep-alives
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") name = value;
    else if (field === "data") data.push(value);
  }
  return data.length ? { name, data: JSON.parse(data.join("\n")) } : null;
}

// ---- one exchange ----

function describeDone(done, timing) {
  const usage = done.usage;
  const cost = done.cost_usd === null ? "cost unknown" : `$${done.cost_usd.toFixed(6)}`;
  const cached = usage.cache_read_input_tokens ? ` (${usage.cache_read_input_tokens} from cache)` : "";
  const stop = {
    end_turn: "",
    max_tokens: " · cut off at max_tokens",
    refusal: " · Claude declined to answer (refusal)",
  }[done.stop_reason] ?? ` · stop: ${done.stop_reason}`;
  const firstToken = timing.firstToken === null ? "no text" : `first token ${Math.round(timing.firstToken)} ms`;
  return (
    `${done.model} · ${usage.input_tokens} in${cached} / ${usage.output_tokens} out tokens · ${cost} · ` +
    `${firstToken} · ${(timing.total / 1000).toFixed(1)} s${stop}`
  );
}

async function send(message) {
  const turn = addTurn("assistant");
  turn.classList.add("streaming");
  const text = turn.querySelector(".text");
  const started = performance.now();
  const timing = { firstToken: null, total: 0 };
  const body = { message, stream: true };
  if (state.sessionId) body.session_id = state.sessionId;
  if ($("model").value) body.model = $("model").value;
  try {
    const response = await fetch("chat", {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream", ...identityHeaders() },
      body: JSON.stringify(body),
    });
    if (!response.ok) {
      addLine(turn, "problem", await describeResponse(response));
      turn.dataset.state = "refused";
      return;
    }
    for await (const event of serverSentEvents(response.body)) {
      if (event.name === "start") {
        setSession(event.data.session_id);
      } else if (event.name === "delta") {
        if (timing.firstToken === null) timing.firstToken = performance.now() - started;
        text.textContent += event.data.text;
      } else if (event.name === "done") {
        timing.total = performance.now() - started;
        addLine(turn, "meta", describeDone(event.data, timing));
        turn.dataset.state = "done";
      } else if (event.name === "error") {
        const retry = event.data.retryable ? " Sending it again may work." : "";
        addLine(turn, "problem", `${describeError(event.data)}${retry}`);
        turn.dataset.state = "error";
      }
    }
    if (!turn.dataset.state) {
      addLine(turn, "problem", "The answer stopped before it was complete: send your message again.");
      turn.dataset.state = "error";
    }
  } catch (error) {
    addLine(turn, "problem", `The chat API could not be reached: ${error.message}`);
    turn.dataset.state = "error";
  } finally {
    turn.classList.remove("streaming");
  }
}

async function submit(event) {
  event.preventDefault();
  const message = $("message").value;
  if (state.busy || !message.trim()) return;
  state.busy = true;
  $("send").disabled = true;
  $("message").value = "";
  addTurn("user", message);
  try {
    await send(message);
  } finally {
    state.busy = false;
    $("send").disabled = false;
    $("message").focus();
  }
}

// ---- start-up: settings, then the session this tab had (if any) ----

async function restoreSession() {
  if (!state.sessionId || !$("identity").value.trim()) return setSession(null);
  const response = await fetch(`chat/${encodeURIComponent(state.sessionId)}`, { headers: identityHeaders() });
  if (!response.ok) return setSession(null);
  const history = await response.json();
  for (const turn of history.turns) {
    const shown = addTurn(turn.role, turn.text);
    if (turn.partial) addLine(shown, "problem", "This answer did not finish.");
  }
  setSession(history.session_id);
}

function showLimits(limits) {
  for (const model of limits.allowed_models) $("model").append(new Option(model, model));
  $("limits").textContent =
    `messages up to ${limits.message_max_chars} characters · answers up to ${limits.max_tokens_cap} tokens`;
}

async function start() {
  const response = await fetch("ui/config.json");
  state.config = await response.json();
  setUpIdentity();
  showLimits(state.config.limits);
  $("docs-link").hidden = !state.config.api_docs;
  $("composer").addEventListener("submit", submit);
  $("message").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) submit(event);
  });
  $("new-chat").addEventListener("click", () => {
    $("transcript").replaceChildren();
    setSession(null);
    $("message").focus();
  });
  await restoreSession();
  document.body.dataset.ready = "true";
}

start().catch((error) => {
  addLine(addTurn("assistant"), "problem", `The page could not start: ${error.message}`);
});
