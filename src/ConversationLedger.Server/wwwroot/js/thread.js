// One thread: its conversation (streamed turns, Stop, inline errors), the context gauge and what the policy left out,
// the thread's actions (settings, pin, edit, fork, reset, export, delete), its usage per call and the inspect view.
import { ProblemError, request, streamTurn, threadPath } from './api.js';
import { plainText, renderContent, thinkingElement } from './blocks.js';
import { drawUsage } from './charts.js';
import { $, $$, announce, clearFormProblems, confirmAction, download, h, reason, showFormProblem } from './dom.js';
import * as f from './format.js';
import { setMarkdown } from './markdown.js';

const view = {
  path: null, scope: null, id: null, thread: null, messages: [], olderCursor: null, inspect: null,
  turn: null, tab: 'chat', generation: 0, draftTimer: 0, draftGeneration: 0,
};
let hooks = { changed: () => {}, navigate: () => {} };
// A message to put in the composer of a thread about to open (a fork made from a question).
let pendingDraft = null;

/** Wires the thread view once; `changed()` is told when a thread's listing may have changed. */
export function initThread(callbacks) {
  hooks = { ...hooks, ...callbacks };
  followScrolling();
  $('#composer').addEventListener('submit', e => { e.preventDefault(); send(); });
  $('#composer-input').addEventListener('keydown', e => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(); }
  });
  $('#composer-input').addEventListener('input', scheduleDraftEstimate);
  $('#stop').addEventListener('click', stop);
  $('#older-messages').addEventListener('click', loadOlder);
  $('#act-settings').addEventListener('click', openSettings);
  $('#act-export').addEventListener('click', exportThread);
  $('#act-fork').addEventListener('click', () => fork(undefined));
  $('#act-reset').addEventListener('click', reset);
  $('#act-delete').addEventListener('click', remove);
  $('#settings-form').addEventListener('submit', saveSettings);
  $('#edit-form').addEventListener('submit', saveEdit);
  $('#inspect-form').addEventListener('submit', e => { e.preventDefault(); showInspect(); });
  const tabs = $$('.tabs [role="tab"]');
  for (const tab of tabs) {
    tab.addEventListener('click', () => selectTab(tab.id.slice(4)));
    tab.addEventListener('keydown', e => {
      const at = tabs.indexOf(tab);
      const next = e.key === 'ArrowRight' ? tabs[(at + 1) % tabs.length] : e.key === 'ArrowLeft' ? tabs[(at + tabs.length - 1) % tabs.length] : null;
      if (next) { e.preventDefault(); next.focus(); selectTab(next.id.slice(4)); }
    });
  }
}

/** Opens a thread (or keeps it when it is already open). */
export async function openThread(scope, id) {
  if (view.scope === scope && view.id === id && view.thread) return;
  closeThread();
  const generation = ++view.generation;
  Object.assign(view, { scope, id, path: threadPath(scope, id), thread: null, messages: [], olderCursor: null, inspect: null });
  $('#thread-view').hidden = false;
  $('#thread-title').textContent = id;
  $('#thread-meta').textContent = scope;
  $('#messages').replaceChildren();
  $('#inspect-result').replaceChildren();
  $('#composer-input').value = '';
  hideThreadError();
  hideWarning();
  $('#next-estimate').textContent = '';
  setBusy(false);
  selectTab('chat', { focus: false });
  try {
    await Promise.all([loadThread(), loadMessages()]);
  } catch (error) {
    if (generation !== view.generation) return;
    view.thread = null;
    showThreadError(error instanceof ProblemError && error.status === 404
      ? `No thread ${id} in scope ${scope} for this key (it may have been deleted, or belong to another tenant).`
      : reason(error));
    $('#composer').hidden = true;
    return;
  }
  if (generation !== view.generation) return;
  $('#composer').hidden = false;
  if (pendingDraft && pendingDraft.scope === scope && pendingDraft.id === id) {
    $('#composer-input').value = pendingDraft.text;
    pendingDraft = null;
    scheduleDraftEstimate();
  }
  refreshGauge();
}

/** Leaves the open thread; a turn still streaming goes on in the service (its reply is there when the thread opens again). */
export function closeThread() {
  view.generation++;
  view.turn?.abort.abort();
  view.turn = null;
  Object.assign(view, { path: null, scope: null, id: null, thread: null, messages: [] });
  $('#thread-view').hidden = true;
}

export const openThreadKey = () => (view.thread ? { scope: view.scope, id: view.id } : null);

function current(generation) { return generation === view.generation; }

// ---------------------------------------------------------------- loading

async function loadThread() {
  const generation = view.generation;
  const thread = await request('GET', view.path);
  if (!current(generation)) return;
  view.thread = thread;
  // The empty conversation's note depends on the thread (reset or new): say it right whichever of the two loads came first.
  const note = $('#no-messages');
  if (note) note.textContent = thread.last_sequence > 1
    ? 'No messages since the last reset. Write the first one below.'
    : 'No messages yet. Write the first one below.';
  $('#thread-title').textContent = thread.id;
  document.title = `${thread.id} · ConversationLedger`;
  const meta = [
    `scope ${thread.scope}`,
    thread.model ?? 'the default model',
    `policy ${thread.policy ?? 'default'}`,
    f.count(thread.messages, 'message'),
    `${f.tokens(thread.tokens)} tokens`,
    `${f.usd(thread.cost_usd)} so far`,
  ];
  if (thread.archived_at) meta.push('archived');
  $('#thread-meta').textContent = meta.join(' · ');
}

async function loadMessages() {
  const generation = view.generation;
  const page = await request('GET', `${view.path}/messages`, { query: { limit: 100 } });
  if (!current(generation)) return;
  view.messages = page.data;
  view.olderCursor = page.next_cursor ?? null;
  renderMessages({ scroll: true });
}

async function loadOlder() {
  if (!view.olderCursor) return;
  const generation = view.generation;
  try {
    const page = await request('GET', `${view.path}/messages`, { query: { before: view.olderCursor, limit: 100 } });
    if (!current(generation)) return;
    view.messages = [...page.data, ...view.messages];
    view.olderCursor = page.next_cursor ?? null;
    renderMessages({ scroll: false });
  } catch (error) {
    showThreadError(reason(error));
  }
}

async function reloadAfterChange() {
  await Promise.all([loadThread(), loadMessages()]);
  refreshGauge();
  if (view.tab === 'usage') showUsage();
  hooks.changed();
}

// ---------------------------------------------------------------- messages

// The conversation scrolls in its own box on wide screens and with the whole thread on phones; either way it sticks to
// the newest message while the reader is there, as the gauge and the reply change the layout around it.
let stickToEnd = true;

function scroller() {
  const list = $('#messages');
  return getComputedStyle(list).overflowY === 'auto' ? list : $('#thread-view');
}

function nearEnd() {
  const s = scroller();
  return s.scrollHeight - s.scrollTop - s.clientHeight < 120;
}

function scrollToEnd() {
  const s = scroller();
  s.scrollTop = s.scrollHeight;
  stickToEnd = true;
}

function followScrolling() {
  for (const box of [$('#messages'), $('#thread-view')]) {
    box.addEventListener('scroll', () => { stickToEnd = nearEnd(); }, { passive: true });
    new ResizeObserver(() => { if (stickToEnd) scrollToEnd(); }).observe(box);
  }
  new ResizeObserver(() => { if (stickToEnd) scrollToEnd(); }).observe($('.gauge'));
}

function renderMessages({ scroll }) {
  const list = $('#messages');
  const items = view.messages.map(m => messageElement(m));
  if (items.length === 0) {
    items.push(h('li', { class: 'turn-note', id: 'no-messages' }, view.thread?.last_sequence > 1
      ? 'No messages since the last reset. Write the first one below.'
      : 'No messages yet. Write the first one below.'));
  }
  list.replaceChildren(...items);
  $('#older-messages').hidden = !view.olderCursor;
  if (scroll) scrollToEnd();
  else stickToEnd = false;
}

function roleName(role) {
  return role === 'user' ? 'You' : role === 'assistant' ? 'Assistant' : role;
}

function messageElement(message, { context } = {}) {
  const n = message.ordinal;
  const text = plainText(message.content);
  const actions = h('div', { class: 'msg-actions' },
    h('button', { type: 'button', 'aria-label': `${message.pinned ? 'Unpin' : 'Pin'} message ${n}`, onclick: () => togglePin(message) }, message.pinned ? 'Unpin' : 'Pin'),
    text !== null ? h('button', { type: 'button', 'aria-label': `Edit message ${n}`, onclick: () => openEdit(message) }, 'Edit') : null,
    forkPoint(message) !== null
      ? h('button', { type: 'button', 'aria-label': `Fork here from message ${n}`, title: message.role === 'user' ? 'A copy of the thread before this message, with it ready to send again' : 'A copy of the thread up to this reply', onclick: () => forkFrom(message) }, 'Fork here')
      : null);
  const head = h('div', { class: 'msg-head' },
    h('span', { class: 'msg-role' }, roleName(message.role)),
    h('span', {}, `#${n}`),
    message.pinned ? h('span', { class: 'badge pin' }, 'pinned') : null,
    message.edited ? h('span', { class: 'badge' }, 'edited') : null,
    h('span', {}, `${f.tokens(message.tokens)} tokens`),
    actions);
  const item = h('li', {
    class: 'msg', dataset: { role: message.role, sequence: message.sequence, ordinal: n, pinned: String(Boolean(message.pinned)) },
    'aria-label': `${roleName(message.role)}, message ${n}${message.pinned ? ', pinned' : ''}`,
  }, head, h('div', { class: 'msg-body' }, ...renderContent(message.content)));
  if (context) item.append(contextFoot(context));
  return item;
}

function contextFoot(context) {
  return h('p', { class: `msg-foot${context.warning ? ' warn' : ''}` },
    `Sent ${f.count(context.messages_sent, 'message')}, about ${f.tokens(context.estimated_input_tokens)} input tokens: `
    + `${f.fill(context.fill)} of the ${f.tokens(context.window)}-token window${context.warning ? ' (over the warning level)' : ''}.`);
}

// A fork needs a point after which the thread can go on: a reply, or the entry before a question.
function forkPoint(message) {
  if (message.role !== 'user') return message.sequence;
  return message.sequence > 1 ? message.sequence - 1 : null;
}

// ---------------------------------------------------------------- turns

function setBusy(busy) {
  $('#send').disabled = busy;
  $('#stop').hidden = !busy;
  $('#messages').setAttribute('aria-busy', String(busy));
}

async function send() {
  const input = $('#composer-input');
  const text = input.value.trim();
  if (!text || view.turn || !view.thread) return;
  const generation = view.generation;
  for (const stale of $$('#messages .failed, #messages .turn-error, #messages .turn-note')) stale.remove();
  const turn = { abort: new AbortController(), id: null, stopRequested: false, text: '', thinking: '', frame: 0 };
  view.turn = turn;
  setBusy(true);
  // The warning comes before the call: the service's own estimate of this very request.
  await draftEstimate(text, { generation });
  if (!current(generation) || turn.abort.signal.aborted) return;
  input.value = '';
  $('#next-estimate').textContent = '';
  const userItem = h('li', { class: 'msg pending', dataset: { role: 'user', pending: 'true' }, 'aria-label': 'You, sending' },
    h('div', { class: 'msg-head' }, h('span', { class: 'msg-role' }, 'You'), h('span', {}, 'sending…')),
    h('div', { class: 'msg-body' }, ...renderContent(text)));
  const textBox = h('div', { class: 'md cursor' });
  const replyBody = h('div', { class: 'msg-body' }, textBox);
  const status = h('span', { class: 'reply-status' }, 'waiting for the model…');
  const replyItem = h('li', { class: 'msg pending', dataset: { role: 'assistant', streaming: 'true' }, 'aria-label': 'Assistant, replying' },
    h('div', { class: 'msg-head' }, h('span', { class: 'msg-role' }, 'Assistant'), status), replyBody);
  $('#no-messages')?.remove();
  const list = $('#messages');
  list.append(userItem, replyItem);
  scrollToEnd();
  let thinkingBox = null;
  const paint = () => {
    turn.frame = 0;
    setMarkdown(textBox, turn.text);
    if (thinkingBox) $('.thinking-text', thinkingBox).textContent = turn.thinking;
    if (stickToEnd) scrollToEnd();
  };
  try {
    const events = streamTurn(view.path, { content: text }, {
      signal: turn.abort.signal,
      onStart: id => { turn.id = id; if (turn.stopRequested) cancel(turn); },
    });
    for await (const event of events) {
      const data = event.data;
      switch (event.name) {
        case 'turn_started':
          turn.id ??= data.turn_id;
          if (turn.stopRequested) cancel(turn);
          break;
        case 'summary_started':
          status.textContent = `summarizing ${describeRange(data.from_sequence, data.through_sequence)} first…`;
          break;
        case 'summary_finished':
          status.textContent = 'waiting for the model…';
          break;
        case 'context_warning':
          showWarning(`This request is at ${f.fill(data.fill)} of the ${f.tokens(data.context_window)}-token context window `
            + `(about ${f.tokens(data.estimated_input_tokens)} tokens), at or over the warning level: soon the policy must leave older messages out, or requests will not fit.`);
          break;
        case 'content_block_delta':
          status.textContent = 'replying…';
          if (data.delta?.type === 'thinking_delta') {
            if (!thinkingBox) {
              thinkingBox = thinkingElement(' ', true);
              $('summary', thinkingBox).textContent = 'Thinking…';
              replyBody.prepend(thinkingBox);
            }
            turn.thinking += data.delta.thinking ?? '';
          } else if (data.delta?.type === 'text_delta') {
            turn.text += data.delta.text ?? '';
          }
          turn.frame ||= requestAnimationFrame(paint);
          break;
        case 'turn_committed':
          if (!current(generation)) return;
          cancelAnimationFrame(turn.frame);
          committed(data, userItem, replyItem);
          return;
        case 'error':
          throw new ProblemError(data);
        default:
          break;
      }
    }
    throw new ProblemError({ status: 0, title: 'The stream ended before the turn did', detail: 'reload the thread to see whether it was stored' });
  } catch (error) {
    if (error.name === 'AbortError' || !current(generation)) return;
    cancelAnimationFrame(turn.frame);
    failed(error, text, turn, userItem, replyItem);
  } finally {
    if (view.turn === turn) {
      view.turn = null;
      setBusy(false);
    }
  }
}

function committed(turn, userItem, replyItem) {
  view.messages.push(turn.user, turn.reply);
  userItem.replaceWith(messageElement(turn.user));
  replyItem.replaceWith(messageElement(turn.reply, { context: turn.context }));
  if (turn.context?.warning) {
    showWarning(`The last request filled ${f.fill(turn.context.fill)} of the ${f.tokens(turn.context.window)}-token window — over the warning level.`);
  } else {
    hideWarning();
  }
  if (turn.summary_error) showThreadError(`The summary could not be written (the turn was stored): ${turn.summary_error}`);
  announce(`Reply received: ${f.tokens(turn.usage?.output_tokens)} output tokens, ${f.usd(turn.usage?.cost_usd)}.`);
  if (stickToEnd) scrollToEnd();
  loadThread().catch(() => {});
  refreshGauge();
  if (view.tab === 'usage') showUsage();
  hooks.changed();
}

function failed(error, text, turn, userItem, replyItem) {
  const input = $('#composer-input');
  if (!input.value) input.value = text;
  const cancelled = turn.stopRequested || (error instanceof ProblemError && error.kind === 'cancelled');
  if (cancelled) {
    userItem.remove();
    replyItem.replaceWith(h('li', { class: 'turn-note', role: 'status' }, 'Stopped. Nothing was stored: the thread is as it was, and your message is back in the box.'));
    announce('Stopped; nothing was stored.');
    refreshGauge();
    // A call the model had begun is billed though nothing was stored: the thread's cost may have changed.
    loadThread().catch(() => {});
    hooks.changed();
    return;
  }
  userItem.classList.replace('pending', 'failed');
  $('.msg-head span:last-child', userItem).textContent = 'not stored';
  const problem = error instanceof ProblemError ? error.problem : { title: 'The turn failed', detail: error.message };
  const lines = [h('strong', {}, problem.title ?? 'The turn failed'), problem.detail ? h('div', {}, problem.detail) : null];
  if (Array.isArray(problem.violations)) lines.push(h('ul', {}, problem.violations.map(v => h('li', {}, v))));
  if (problem.upstream_request_id) lines.push(h('div', { class: 'small' }, `upstream request ${problem.upstream_request_id}${problem.upstream_status ? ` (status ${problem.upstream_status})` : ''}`));
  lines.push(h('div', { class: 'small' }, 'Nothing was stored; your message is back in the box to send again.'));
  replyItem.replaceWith(h('li', { class: 'turn-error', role: 'alert', dataset: { problem: error instanceof ProblemError ? error.kind : 'error' } }, ...lines));
  loadThread().catch(() => {});
  hooks.changed();
}

function stop() {
  const turn = view.turn;
  if (!turn) return;
  turn.stopRequested = true;
  $('#stop').disabled = true;
  if (turn.id) cancel(turn);
}

async function cancel(turn) {
  try {
    await request('POST', `${view.path}/turns/${encodeURIComponent(turn.id)}/cancel`);
  } catch (error) {
    // Finished before the cancel arrived: the turn was stored, and its committed event says so.
    if (!(error instanceof ProblemError && error.status === 409)) showThreadError(`Stop failed: ${reason(error)}`);
  } finally {
    $('#stop').disabled = false;
  }
}

// ---------------------------------------------------------------- the gauge, the warning, the policy

async function refreshGauge() {
  const generation = view.generation;
  try {
    const result = await request('POST', `${view.path}/inspect`, { body: {} });
    if (!current(generation)) return;
    view.inspect = result;
    renderGauge(result);
  } catch (error) {
    if (current(generation)) $('#gauge-text').textContent = `The estimate is not available: ${reason(error)}`;
  }
}

function renderGauge(r) {
  const gauge = $('#gauge');
  const percent = Math.round(r.fill * 1000) / 10;
  const level = r.fill >= 1 ? 'full' : r.fill >= r.warn_at_fill ? 'warn' : 'ok';
  $('#gauge-fill').style.width = `${Math.min(100, percent)}%`;
  $('#gauge-mark').style.left = `${r.warn_at_fill * 100}%`;
  gauge.setAttribute('aria-valuenow', String(Math.min(100, percent)));
  gauge.setAttribute('aria-valuetext', `${f.fill(r.fill)} of the context window`);
  gauge.dataset.fill = String(r.fill);
  gauge.closest('.gauge').dataset.level = level;
  $('#gauge-value').textContent = `${f.fill(r.fill)} of ${f.tokens(r.context_window)} tokens`;
  $('#gauge-text').textContent = level === 'ok'
    ? `The conversation as it stands: about ${f.tokens(r.estimated_input_tokens)} tokens per request; the warning comes at ${f.fill(r.warn_at_fill)}.`
    : `Warning: the next request would fill ${f.fill(r.fill)} of the window (about ${f.tokens(r.estimated_input_tokens)} of ${f.tokens(r.context_window)} tokens), at or over the ${f.fill(r.warn_at_fill)} warning level.`;
  $('#policy-text').textContent = policyText(r);
}

// Entry sequences as the page numbers messages ("messages 3–6", "messages 1, 4–6"); pinned ones are sent, so a range the
// policy left out or summarized does not count them.
function describeRange(from, through, { exceptPinned = false } = {}) {
  const inRange = view.messages
    .filter(m => m.sequence >= from && m.sequence <= through && !(exceptPinned && m.pinned))
    .map(m => m.ordinal)
    .sort((a, b) => a - b);
  if (inRange.length === 0) return `entries ${from}–${through}`;
  const runs = [];
  for (const n of inRange) {
    const last = runs[runs.length - 1];
    if (last && n === last[1] + 1) last[1] = n;
    else runs.push([n, n]);
  }
  const text = runs.map(([a, b]) => (a === b ? `${a}` : `${a}–${b}`)).join(', ');
  return inRange.length === 1 ? `message ${text}` : `messages ${text}`;
}

/** What the policy did: "Messages 1–48 summarized, 2 pinned messages kept, the newest 10 sent." */
function policyText(r) {
  const parts = [];
  if (r.summarized) parts.push(`${describeRange(r.summarized.from_sequence, r.summarized.through_sequence, { exceptPinned: true })} summarized`);
  for (const o of r.omitted ?? []) parts.push(`${describeRange(o.from_sequence, o.through_sequence, { exceptPinned: true })} left out (${o.reason})`);
  if (parts.length === 0) {
    return r.window_messages + r.pinned_messages > 0 ? `Nothing left out: every message (${r.window_messages + r.pinned_messages}) is sent.` : '';
  }
  if (r.pinned_messages > 0) parts.push(`${f.count(r.pinned_messages, 'pinned message')} kept`);
  parts.push(`the newest ${f.count(r.window_messages, 'message')} sent`);
  const text = parts.join(', ');
  return `${text[0].toUpperCase()}${text.slice(1)}.`;
}

function scheduleDraftEstimate() {
  clearTimeout(view.draftTimer);
  const text = $('#composer-input').value.trim();
  if (!text) {
    $('#next-estimate').textContent = '';
    hideWarning();
    return;
  }
  view.draftTimer = setTimeout(() => draftEstimate(text, { generation: view.generation }), 600);
}

// The estimate of the request this draft would make, and the warning when it reaches the warning level: before any call.
async function draftEstimate(text, { generation }) {
  const mine = ++view.draftGeneration;
  try {
    const r = await request('POST', `${view.path}/inspect`, { body: { content: text } });
    if (!current(generation) || mine !== view.draftGeneration) return r;
    $('#next-estimate').textContent = `This request: about ${f.tokens(r.estimated_input_tokens)} tokens, ${f.fill(r.fill)} of the window, about ${f.usd(r.estimated_cost_usd)}.`;
    if (r.fill >= r.warn_at_fill) {
      showWarning(`Before sending: this request is estimated at ${f.fill(r.fill)} of the ${f.tokens(r.context_window)}-token context window `
        + `(about ${f.tokens(r.estimated_input_tokens)} tokens), at or over the ${f.fill(r.warn_at_fill)} warning level.`);
    } else {
      hideWarning();
    }
    return r;
  } catch (error) {
    if (current(generation) && mine === view.draftGeneration) $('#next-estimate').textContent = `No estimate: ${reason(error)}`;
    return null;
  }
}

function showWarning(text) {
  const box = $('#context-warning');
  box.textContent = text;
  box.hidden = false;
}

function hideWarning() { $('#context-warning').hidden = true; }

function showThreadError(text) {
  const box = $('#thread-error');
  box.textContent = text;
  box.hidden = false;
}

function hideThreadError() { $('#thread-error').hidden = true; }

// ---------------------------------------------------------------- actions

async function act(action, success) {
  hideThreadError();
  try {
    await action();
    if (success) announce(success);
  } catch (error) {
    showThreadError(reason(error));
  }
}

function togglePin(message) {
  return act(async () => {
    if (message.pinned) await request('DELETE', `${view.path}/pins/${message.sequence}`);
    else await request('POST', `${view.path}/pins`, { body: { sequence: message.sequence } });
    await reloadAfterChange();
  }, message.pinned ? `Message ${message.ordinal} unpinned.` : `Message ${message.ordinal} pinned with its turn.`);
}

let editing = null;

function openEdit(message) {
  editing = message;
  const form = $('#edit-form');
  clearFormProblems(form);
  $('#edit-title').textContent = `Edit message ${message.ordinal} (${roleName(message.role).toLowerCase()})`;
  $('#edit-text').value = plainText(message.content) ?? '';
  $('#edit-dialog').showModal();
}

async function saveEdit(event) {
  if (event.submitter?.value !== 'save') return;
  event.preventDefault();
  const form = event.target;
  const text = $('#edit-text').value.trim();
  if (!text) {
    showFormProblem(form, new Error('The message cannot be empty.'));
    return;
  }
  try {
    await request('PUT', `${view.path}/messages/${editing.sequence}`, { body: { content: text } });
    $('#edit-dialog').close('saved');
    await reloadAfterChange();
    announce(`Message ${editing.ordinal} edited.`);
  } catch (error) {
    showFormProblem(form, error);
  }
}

function openSettings() {
  if (!view.thread) return;
  const form = $('#settings-form');
  clearFormProblems(form);
  $('#st-system').value = view.thread.system ?? '';
  $('#st-model').value = view.thread.model ?? '';
  $('#st-policy').value = view.thread.policy ?? '';
  $('#settings-dialog').showModal();
}

async function saveSettings(event) {
  if (event.submitter?.value !== 'save') return;
  event.preventDefault();
  const form = event.target;
  const thread = view.thread;
  const system = $('#st-system').value;
  const model = $('#st-model').value.trim();
  const policy = $('#st-policy').value.trim();
  try {
    const patch = {};
    if (model !== (thread.model ?? '')) patch.model = model;
    if (policy !== (thread.policy ?? '')) patch.policy = policy;
    if (Object.keys(patch).length > 0) await request('PATCH', view.path, { body: patch });
    if (system !== (thread.system ?? '')) await request('PUT', `${view.path}/system`, { body: { text: system } });
    $('#settings-dialog').close('saved');
    await reloadAfterChange();
    announce('Settings saved.');
  } catch (error) {
    showFormProblem(form, error);
    await loadThread().catch(() => {});
  }
}

function exportThread() {
  return act(async () => {
    const response = await request('GET', `${view.path}/export`, { raw: true });
    const name = `${view.id.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 100) || 'thread'}.json`;
    download(await response.blob(), name);
  }, 'Export downloaded.');
}

function fork(at, draft) {
  return act(async () => {
    const copy = await request('POST', `${view.path}/fork`, { body: at === undefined ? {} : { at } });
    if (draft) pendingDraft = { scope: copy.scope, id: copy.id, text: draft };
    hooks.changed();
    hooks.navigate(copy.scope, copy.id);
  }, 'Forked: the copy is open.');
}

function forkFrom(message) {
  const at = forkPoint(message);
  return fork(at, message.role === 'user' ? plainText(message.content) ?? undefined : undefined);
}

async function reset() {
  const ok = await confirmAction('Reset this thread?',
    'Later requests start afresh and carry nothing from before. The ledger keeps the earlier messages as its archive (export shows them).',
    'Reset');
  if (!ok) return;
  await act(async () => {
    await request('POST', `${view.path}/reset`, { body: {} });
    await reloadAfterChange();
  }, 'The thread was reset.');
}

async function remove() {
  const ok = await confirmAction(`Delete thread ${view.id}?`,
    `The thread ${view.id} in scope ${view.scope}, its messages and its usage are erased. This cannot be undone; export it first to keep a copy.`,
    'Delete');
  if (!ok) return;
  await act(async () => {
    await request('DELETE', view.path);
    closeThread();
    hooks.changed();
    hooks.navigate(null);
  }, 'The thread was deleted.');
}

// ---------------------------------------------------------------- tabs: usage and inspect

function selectTab(name, { focus = false } = {}) {
  view.tab = name;
  for (const tab of $$('.tabs [role="tab"]')) {
    const selected = tab.id === `tab-${name}`;
    tab.setAttribute('aria-selected', String(selected));
    tab.tabIndex = selected ? 0 : -1;
    $(`#${tab.getAttribute('aria-controls')}`).hidden = !selected;
    if (selected && focus) tab.focus();
  }
  if (!view.path) return;
  if (name === 'usage') showUsage();
  if (name === 'inspect' && !$('#inspect-result').hasChildNodes()) showInspect();
}

async function showUsage() {
  const generation = view.generation;
  try {
    const usage = await request('GET', `${view.path}/usage`);
    if (!current(generation)) return;
    renderThreadUsage(usage);
  } catch (error) {
    if (current(generation)) $('#thread-usage-summary').textContent = reason(error);
  }
}

function callLabel(call, i) {
  const kind = call.kind === 'turn' ? '' : ` ${call.kind}`;
  return `#${i + 1}${kind}${call.inherited ? ' (inherited)' : ''}`;
}

function renderThreadUsage(usage) {
  const calls = usage.calls;
  const t = usage.totals;
  $('#thread-usage-summary').replaceChildren(h('span', { class: 'totals' },
    h('span', {}, 'Calls ', h('b', {}, f.tokens(t.calls))),
    h('span', {}, 'Cache reads ', h('b', {}, f.tokens(t.cache_read_input_tokens))),
    h('span', {}, 'Cache writes ', h('b', {}, f.tokens(t.cache_creation_input_tokens))),
    h('span', {}, 'Uncached input ', h('b', {}, f.tokens(t.input_tokens))),
    h('span', {}, 'Output ', h('b', {}, f.tokens(t.output_tokens))),
    h('span', {}, 'Cost ', h('b', {}, f.usd(t.cost_usd)))));
  drawUsage($('#thread-usage-chart'), calls, {
    label: callLabel,
    title: c => `${f.dateTime(c.recorded_at)} · ${c.kind}${c.uncommitted ? ` (${c.uncommitted})` : ''} · ${c.model}`,
  });
  const table = $('#thread-usage-table');
  $('tbody', table).replaceChildren(...calls.map((c, i) => h('tr', { dataset: { kind: c.kind } },
    h('td', {}, String(i + 1)),
    h('td', { title: f.dateTime(c.recorded_at) }, f.time(c.recorded_at)),
    h('td', {}, `${c.kind}${c.uncommitted ? ` (${c.uncommitted})` : ''}${c.inherited ? ', inherited' : ''}`),
    h('td', { class: 'num' }, f.tokens(c.cache_read_input_tokens)),
    h('td', { class: 'num' }, f.tokens(c.cache_creation_input_tokens)),
    h('td', { class: 'num' }, f.tokens(c.input_tokens)),
    h('td', { class: 'num' }, f.tokens(c.output_tokens)),
    h('td', { class: 'num' }, f.usd(c.cost_usd)))));
  if (calls.length === 0) $('tbody', table).append(h('tr', {}, h('td', { colspan: 8, class: 'muted' }, 'No model calls yet.')));
  $('tfoot', table).replaceChildren(h('tr', {},
    h('th', { scope: 'row', colspan: 3 }, `Totals (${f.count(t.calls, 'call')} of this thread)`),
    h('td', { class: 'num' }, f.tokens(t.cache_read_input_tokens)),
    h('td', { class: 'num' }, f.tokens(t.cache_creation_input_tokens)),
    h('td', { class: 'num' }, f.tokens(t.input_tokens)),
    h('td', { class: 'num' }, f.tokens(t.output_tokens)),
    h('td', { class: 'num' }, f.usd(t.cost_usd))));
}

/** Redraws the thread's chart (the colour scheme changed). */
export function redrawThreadCharts() {
  if (view.path && view.tab === 'usage') showUsage();
}

async function showInspect() {
  const generation = view.generation;
  const text = $('#inspect-input').value.trim();
  const out = $('#inspect-result');
  try {
    const r = await request('POST', `${view.path}/inspect`, { body: text ? { content: text } : {} });
    if (!current(generation)) return;
    const fact = (name, value) => h('div', {}, h('dt', {}, name), h('dd', {}, value));
    const parts = Object.entries(r.parts ?? {});
    out.replaceChildren(
      h('dl', { class: 'facts' },
        fact('Estimated input', `${f.tokens(r.estimated_input_tokens)} tokens`),
        fact('Context window', `${f.tokens(r.context_window)} tokens`),
        fact('Budget for input', `${f.tokens(r.budget)} tokens`),
        fact('Fill', `${f.fill(r.fill)} (warning at ${f.fill(r.warn_at_fill)})`),
        fact('Estimated cost (uncached)', f.usd(r.estimated_cost_usd))),
      h('div', { class: 'table-wrap' }, h('table', { class: 'data', id: 'inspect-parts' },
        h('caption', {}, 'Tokens per part'),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Part'), h('th', { scope: 'col', class: 'num' }, 'Tokens'))),
        h('tbody', {}, parts.map(([name, n]) => h('tr', {}, h('th', { scope: 'row' }, name.replace('_', ' ')), h('td', { class: 'num' }, f.tokens(n))))))),
      h('h3', {}, 'Cache breakpoints'),
      r.breakpoints?.length ? h('ul', { id: 'inspect-breakpoints' }, r.breakpoints.map(b => h('li', {}, b))) : h('p', { class: 'muted' }, 'None.'),
      h('h3', {}, 'What the policy left out'),
      h('p', {}, policyText(r) || 'Nothing: the conversation is empty.'),
      h('h3', {}, 'The request, as it would be sent'),
      h('pre', { class: 'json', tabindex: '0', 'aria-label': 'Request JSON' }, JSON.stringify(r.request, null, 2)));
  } catch (error) {
    if (current(generation)) out.replaceChildren(h('p', { class: 'banner error', role: 'alert' }, reason(error)));
  }
}
