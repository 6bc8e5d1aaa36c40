// The console's only way to the server: the public API with the signed-in identity's token.
// The token lives in this module's memory only — never in localStorage, sessionStorage or a
// cookie — so it ends with the tab (or at sign-out).

let token = null;
let onUnauthorized = () => {};

export function setToken(value) { token = value; }
export function signedIn() { return token !== null; }
export function whenUnauthorized(handler) { onUnauthorized = handler; }

export class APIError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// Every error shape the API answers: {"error":{"type","message"}}, {"error":"code","message"}, {"error":"code"}.
function describe(text, status) {
  try {
    const body = JSON.parse(text);
    if (body && typeof body.error === 'object' && body.error) return `${body.error.message || body.error.type} (${status})`;
    if (body && typeof body.error === 'string') return `${body.message || body.error} (${status})`;
  } catch (_) { /* not JSON */ }
  return `HTTP ${status}`;
}

function headers(extra) {
  const out = { ...extra };
  if (token) out.Authorization = `Bearer ${token}`;
  return out;
}

// Numbers keep the digits the server sent (round three, finding 3): JSON.parse would show an
// approver account 1234567890123456789 as 1234567890123456800. Where the browser offers the
// source text of a number (JSON.parse source access, JSON.rawJSON), a number whose digits do not
// survive as a double is kept as its own text, so displays and JSON.stringify show it exactly.
function exactNumbers(key, value, context) {
  if (typeof value === 'number' && context && typeof context.source === 'string'
      && typeof JSON.rawJSON === 'function' && String(value) !== context.source) {
    return JSON.rawJSON(context.source);
  }
  return value;
}

export function parseExact(text) { return JSON.parse(text, exactNumbers); }

export async function call(method, path, body, { text = false } = {}) {
  const init = { method, headers: headers(body === undefined ? {} : { 'Content-Type': 'application/json' }), cache: 'no-store', credentials: 'omit' };
  if (body !== undefined) init.body = JSON.stringify(body);
  const response = await fetch(path, init);
  const payload = await response.text();
  if (!response.ok) {
    if (response.status === 401 && token) onUnauthorized();
    throw new APIError(response.status, describe(payload, response.status));
  }
  if (text) return payload;
  return payload ? parseExact(payload) : null;
}

export const get = (path, options) => call('GET', path, undefined, options);
export const post = (path, body, options) => call('POST', path, body === undefined ? {} : body, options);
export const iam = (request) => post('/api/v1/iam', request);

export async function login(username, password, workspace) {
  const body = { username, password };
  if (workspace) body.workspace = workspace;
  const answer = await post('/api/v1/auth/login', body);
  return answer.jwt;
}

// Server-sent events over fetch (EventSource cannot send an Authorization header). Calls
// onOpen once the server has answered, onEvent(name, data) per event; resolves when the stream
// ends, rejects on error.
export async function stream(path, onEvent, signal, onOpen = () => {}) {
  const response = await fetch(path, { headers: headers({ Accept: 'text/event-stream' }), cache: 'no-store', credentials: 'omit', signal });
  if (!response.ok) {
    if (response.status === 401 && token) onUnauthorized();
    throw new APIError(response.status, describe(await response.text(), response.status));
  }
  onOpen();
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) name = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
      }
      if (data.length) onEvent(name, data.join('\n'));
    }
  }
}
