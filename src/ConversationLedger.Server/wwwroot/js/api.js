// The service's API as the page uses it: the key from session storage in x-api-key, problem documents as errors, and
// streamed turns read from a fetch body (EventSource can neither POST nor send a header).

const STORAGE = 'conversation-ledger.api-key';

/** The signed-in key, kept in session storage: it lives as long as the tab and is never written anywhere else. */
export const session = {
  get key() { return sessionStorage.getItem(STORAGE); },
  signIn(key) { sessionStorage.setItem(STORAGE, key); },
  signOut() { sessionStorage.removeItem(STORAGE); },
};

/** An error the API answered with: its problem document (type, title, detail, field, status). */
export class ProblemError extends Error {
  constructor(problem) {
    super(problem.detail || problem.title || `HTTP ${problem.status}`);
    this.name = 'ProblemError';
    this.problem = problem;
    this.status = problem.status;
  }

  /** The problem's short name (`cancelled`, `not-found` …). */
  get kind() { return (this.problem.type || '').split(':').pop(); }
}

let unauthorized = () => {};

/** Called when the service refuses the key (401), whatever the request. */
export function onUnauthorized(handler) { unauthorized = handler; }

/** The problem a failed response carries, or one made from its status when it carries none. */
async function problemOf(response) {
  let body = null;
  try { body = await response.json(); } catch { /* not JSON */ }
  if (body && typeof body === 'object' && (body.title || body.detail)) {
    return { status: response.status, ...body };
  }
  return { status: response.status, title: response.statusText || `HTTP ${response.status}`, detail: '' };
}

/**
 * One request. `query` is an object or a list of [name, value] pairs (empty values are left out); `raw` returns the
 * response itself. Throws ProblemError for any answer other than 2xx, and for a service that cannot be reached.
 */
export async function request(method, path, { body, query, raw, signal } = {}) {
  const url = new URL(path, location.origin);
  const pairs = Array.isArray(query) ? query : Object.entries(query ?? {});
  for (const [name, value] of pairs) {
    if (value !== undefined && value !== null && value !== '') url.searchParams.append(name, value);
  }
  const headers = { 'x-api-key': session.key ?? '' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response;
  try {
    response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal });
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ProblemError({ status: 0, title: 'The service cannot be reached', detail: error.message });
  }
  if (!response.ok) {
    const problem = await problemOf(response);
    if (response.status === 401) unauthorized(problem);
    throw new ProblemError(problem);
  }
  if (raw) return response;
  if (response.status === 204 || response.status === 202) return null;
  return response.json();
}

/** The API path of a thread. */
export function threadPath(scope, id) {
  return `/v1/threads/${encodeURIComponent(scope)}/${encodeURIComponent(id)}`;
}

/**
 * Sends a turn with `stream: true` and yields its events as { name, data, id } (data parsed). `onStart(turnId)` is called
 * as soon as the response names the turn, so the caller can cancel it. A connection lost before the turn ended is
 * re-attached once (GET …/turns/{id}/events with Last-Event-ID), as the service allows from any instance.
 */
export async function* streamTurn(path, body, { onStart, signal } = {}) {
  const response = await request('POST', `${path}/turns`, { body: { ...body, stream: true }, raw: true, signal });
  const turnId = response.headers.get('x-turn-id');
  if (turnId && onStart) onStart(turnId);
  let lastId = null;
  let ended = false;
  try {
    for await (const event of readEvents(response, signal)) {
      if (event.id) lastId = event.id;
      if (event.name === 'turn_committed' || event.name === 'error') ended = true;
      yield event;
    }
  } catch (error) {
    if (error.name === 'AbortError' || !turnId) throw error;
  }
  if (ended || !turnId || signal?.aborted) return;
  const again = await fetch(new URL(`${path}/turns/${encodeURIComponent(turnId)}/events`, location.origin), {
    headers: { 'x-api-key': session.key ?? '', ...(lastId ? { 'last-event-id': lastId } : {}) },
    signal,
  });
  if (!again.ok) throw new ProblemError(await problemOf(again));
  yield* readEvents(again, signal);
}

// text/event-stream, as the service writes it: "event:", "data:" and "id:" lines, a blank line ending each event.
async function* readEvents(response, signal) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  const abort = () => reader.cancel().catch(() => {});
  signal?.addEventListener('abort', abort);
  let buffer = '';
  let name = 'message';
  let data = [];
  let id = null;
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, end).replace(/\r$/, '');
        buffer = buffer.slice(end + 1);
        if (line === '') {
          if (data.length > 0) {
            const text = data.join('\n');
            let parsed;
            try { parsed = JSON.parse(text); } catch { parsed = text; }
            yield { name, data: parsed, id };
          }
          name = 'message';
          data = [];
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const content = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') name = content;
        else if (field === 'data') data.push(content);
        else if (field === 'id') id = content;
      }
    }
  } finally {
    signal?.removeEventListener('abort', abort);
  }
  if (signal?.aborted) throw new DOMException('aborted', 'AbortError');
}
