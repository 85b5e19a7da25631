// Stream one chat answer from the kit's chat API: fetch + the response body's stream reader, no dependencies.
// Runs in Node.js 20+ as it is; `streamChat` runs unchanged in a browser (functions/chat_api/static/chat.js
// is the chat page's fuller version).
//
//   node examples/js/chat.mjs --url http://127.0.0.1:8080 --user alice "Why does streaming matter?"
//   CHAT_API_KEY=... node examples/js/chat.mjs --url https://ID.execute-api.REGION.amazonaws.com/dev "Hi"
//
// The answer goes to stdout as it arrives; the session id and a summary go to stderr. Exit status: 0 answered,
// 1 the answer failed after it started (an `error` event), 2 refused before anything was sent to Claude.
import { parseArgs } from "node:util";

/** Yields {name, data} for each server-sent event of a fetch response body. */
export async function* serverSentEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    const frames = buffer.replace(/\r\n?/g, "\n").split("\n\n");
    buffer = frames.pop();
    for (const frame of frames) {
      let name = "message";
      const data = [];
      for (const line of frame.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) yield { name, data: JSON.parse(data.join("\n")) };
    }
  }
}

/**
 * POST /chat and call `onText` for each piece of the answer. Resolves to the `done` event's data; rejects with
 * an Error whose `kind` is "refused" (a JSON error before the stream) or "failed" (an `error` event).
 */
export async function streamChat({ url, headers, message, sessionId, onStart, onText }) {
  const response = await fetch(`${url.replace(/\/$/, "")}/chat`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "text/event-stream", ...headers },
    body: JSON.stringify(sessionId ? { message, session_id: sessionId } : { message }),
  });
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    const error = body.error ?? { type: `http_${response.status}`, message: body.message ?? response.statusText };
    const fields = (error.fields ?? []).map((f) => `${f.field}: ${f.problem}`).join("; ");
    throw Object.assign(new Error(`${response.status} ${error.type}: ${error.message}${fields ? ` (${fields})` : ""}`), {
      kind: "refused",
    });
  }
  for await (const event of serverSentEvents(response.body)) {
    if (event.name === "start") onStart?.(event.data);
    else if (event.name === "delta") onText(event.data.text);
    else if (event.name === "done") return event.data;
    else if (event.name === "error") {
      const again = event.data.retryable ? "sending it again may work" : "do not resend as is";
      throw Object.assign(new Error(`${event.data.type}: ${event.data.message} (${again})`), { kind: "failed" });
    }
  }
  throw Object.assign(new Error("the stream ended without a done or error event"), { kind: "failed" });
}

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      url: { type: "string", default: "http://127.0.0.1:8080" },
      user: { type: "string" },
      session: { type: "string" },
    },
  });
  const apiKey = process.env.CHAT_API_KEY;
  if (positionals.length !== 1 || (!apiKey && !values.user)) {
    console.error('usage: [CHAT_API_KEY=...] node chat.mjs [--url URL] [--user NAME] [--session ID] "message"');
    return 2;
  }
  const headers = apiKey ? { "x-api-key": apiKey } : { "x-kit-user-id": values.user };
  const started = performance.now();
  let firstToken = null;
  try {
    const done = await streamChat({
      url: values.url,
      headers,
      message: positionals[0],
      sessionId: values.session,
      onStart: (start) => console.error(`session: ${start.session_id}`),
      onText: (text) => {
        firstToken ??= performance.now() - started;
        process.stdout.write(text);
      },
    });
    const cost = done.cost_usd === null ? "unknown" : `$${done.cost_usd.toFixed(6)}`;
    const ttft = firstToken === null ? "-" : `${Math.round(firstToken)} ms`;
    process.stdout.write("\n");
    console.error(
      `done: ${done.model}, ${done.usage.input_tokens} in / ${done.usage.output_tokens} out tokens, ${cost}, ` +
        `first token ${ttft}, stop ${done.stop_reason}`,
    );
    return 0;
  } catch (error) {
    if (firstToken !== null) process.stdout.write("\n");
    if (error.kind === "refused") console.error(`refused: ${error.message}`);
    else if (error.kind === "failed") console.error(`error: ${error.message}`);
    else console.error(`error: cannot reach ${values.url}: ${error.cause?.message ?? error.message}`);
    return error.kind === "refused" ? 2 : error.kind === "failed" ? 1 : 3;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = await main();
