// The page: sign in with an API key, the tenant's threads, one thread at a time, the tenant's usage. Routes live in the
// address's fragment (#/t/SCOPE/ID, #/usage), so a reload or a link opens the same view.
import { ProblemError, onUnauthorized, request, session } from './api.js';
import { followColorScheme } from './charts.js';
import { $, announce, clearFormProblems, h, reason, showFormProblem, wireDialogs } from './dom.js';
import * as f from './format.js';
import { closeThread, initThread, openThread, openThreadKey, redrawThreadCharts } from './thread.js';
import { closeUsage, initUsage, openUsage, redrawUsageCharts } from './usage.js';

const list = { cursor: null, loaded: false, scopes: new Set(), generation: 0 };

function threadHash(scope, id) {
  return `#/t/${encodeURIComponent(scope)}/${encodeURIComponent(id)}`;
}

// ---------------------------------------------------------------- sign in and out

function showSignIn(message = '') {
  document.body.dataset.route = 'sign-in';
  $('#sign-in-view').hidden = false;
  $('#app-view').hidden = true;
  $('#topnav').hidden = true;
  $('#sign-in-error').textContent = message;
  $('#api-key').value = '';
  $('#api-key').focus();
}

async function signIn(event) {
  event.preventDefault();
  const key = $('#api-key').value.trim();
  if (!key) {
    $('#sign-in-error').textContent = 'Enter an API key.';
    return;
  }
  session.signIn(key);
  try {
    await request('GET', '/v1/threads', { query: { limit: 1 } });
  } catch (error) {
    session.signOut();
    showSignIn(error instanceof ProblemError && error.status === 401 ? 'The service did not accept this key.' : reason(error));
    return;
  }
  list.loaded = false;
  route();
  announce('Signed in.');
}

function signOut(message) {
  session.signOut();
  closeThread();
  closeUsage();
  list.loaded = false;
  list.scopes.clear();
  $('#thread-list').replaceChildren();
  if (location.hash && location.hash !== '#/') history.replaceState(null, '', '#/');
  showSignIn(message);
  announce('Signed out.');
}

// ---------------------------------------------------------------- routes

function route() {
  if (!session.key) {
    showSignIn();
    return;
  }
  $('#sign-in-view').hidden = true;
  $('#app-view').hidden = false;
  $('#topnav').hidden = false;
  if (!list.loaded) loadThreads({ reset: true });
  const parts = (location.hash || '#/').replace(/^#\/?/, '').split('/');
  document.title = parts[0] === 'usage' ? 'Usage · ConversationLedger' : 'ConversationLedger';
  if (parts[0] === 't' && parts.length >= 3) {
    document.body.dataset.route = 'thread';
    closeUsage();
    $('#empty-view').hidden = true;
    openThread(decode(parts[1]), decode(parts.slice(2).join('/'))).then(markCurrent);
  } else if (parts[0] === 'usage') {
    document.body.dataset.route = 'usage';
    closeThread();
    $('#empty-view').hidden = true;
    openUsage();
  } else {
    document.body.dataset.route = 'list';
    closeThread();
    closeUsage();
    $('#empty-view').hidden = false;
  }
  const onUsage = parts[0] === 'usage';
  for (const [link, here] of [[$('#nav-threads'), !onUsage], [$('#nav-usage'), onUsage]]) {
    if (here) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  markCurrent();
}

function decode(part) {
  try { return decodeURIComponent(part); } catch { return part; }
}

function navigate(scope, id) {
  location.hash = scope === null ? '#/' : threadHash(scope, id);
}

// ---------------------------------------------------------------- threads

function filterQuery() {
  const query = [['limit', '25']];
  const scope = $('#filter-scope').value.trim();
  if (scope) query.push(['scope', scope]);
  const q = $('#filter-q').value.trim();
  if (q) query.push(['q', q]);
  if ($('#filter-archived').checked) query.push(['archived', 'true']);
  for (const pair of $('#filter-metadata').value.split(/[,\n]/).map(p => p.trim()).filter(Boolean)) {
    const at = pair.indexOf('=');
    if (at < 1) throw new Error(`"${pair}" is not key=value`);
    query.push([`metadata.${pair.slice(0, at).trim()}`, pair.slice(at + 1).trim()]);
  }
  return query;
}

async function loadThreads({ reset }) {
  const generation = ++list.generation;
  $('#filter-error').textContent = '';
  let query;
  try {
    query = filterQuery();
  } catch (error) {
    $('#filter-error').textContent = error.message;
    return;
  }
  if (!reset && list.cursor) query.push(['cursor', list.cursor]);
  try {
    const page = await request('GET', '/v1/threads', { query });
    if (generation !== list.generation) return;
    list.loaded = true;
    list.cursor = page.next_cursor ?? null;
    const items = page.data.map(threadItem);
    if (reset) $('#thread-list').replaceChildren(...items);
    else $('#thread-list').append(...items);
    if ($('#thread-list').children.length === 0) {
      $('#thread-list').append(h('li', { class: 'empty-note' }, query.length > 1 ? 'No thread matches.' : 'No threads yet. Create one.'));
    }
    for (const thread of page.data) list.scopes.add(thread.scope);
    $('#known-scopes').replaceChildren(...[...list.scopes].sort().map(s => h('option', { value: s })));
    $('#more-threads').hidden = !list.cursor;
    const shown = $('#thread-list').querySelectorAll('a').length;
    $('#threads-summary').textContent = `${f.count(shown, 'thread')} shown${list.cursor ? ', more below' : ''}, newest activity first.`;
    markCurrent();
  } catch (error) {
    if (generation === list.generation) $('#filter-error').textContent = reason(error);
  }
}

function threadItem(thread) {
  return h('li', {},
    h('a', { href: threadHash(thread.scope, thread.id), dataset: { scope: thread.scope, id: thread.id } },
      h('span', { class: 'thread-name' }, h('span', { class: 'thread-id' }, thread.id), h('span', { class: 'thread-scope' }, thread.scope)),
      h('span', { class: 'thread-stats' },
        `${f.count(thread.messages, 'message')} · ${f.tokens(thread.tokens)} tokens · ${f.usd(thread.cost_usd)}`),
      h('span', { class: 'thread-stats', title: f.dateTime(thread.activity_at) },
        `active ${f.ago(thread.activity_at)}${thread.model ? ` · ${thread.model}` : ''}${thread.archived_at ? ' · archived' : ''}`)));
}

function markCurrent() {
  const open = openThreadKey();
  for (const link of document.querySelectorAll('#thread-list a')) {
    const here = open && link.dataset.scope === open.scope && link.dataset.id === open.id;
    if (here) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

function openNewThread() {
  const form = $('#new-thread-form');
  clearFormProblems(form);
  form.reset();
  const scope = $('#filter-scope').value.trim();
  if (scope) $('#nt-scope').value = scope;
  $('#new-thread-dialog').showModal();
}

async function createThread(event) {
  if (event.submitter?.value !== 'create') return;
  event.preventDefault();
  const form = event.target;
  clearFormProblems(form);
  const value = name => form.elements.namedItem(name).value.trim();
  const body = { scope: value('scope') || 'default' };
  for (const name of ['id', 'model', 'policy']) if (value(name)) body[name] = value(name);
  if (form.elements.namedItem('system').value.trim()) body.system = form.elements.namedItem('system').value;
  const metadata = {};
  for (const line of value('metadata').split('\n').map(l => l.trim()).filter(Boolean)) {
    const at = line.indexOf('=');
    if (at < 1) {
      showFormProblem(form, new ProblemError({ title: 'Metadata', detail: `"${line}" is not key=value`, field: 'metadata' }));
      return;
    }
    metadata[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  if (Object.keys(metadata).length > 0) body.metadata = metadata;
  try {
    const thread = await request('POST', '/v1/threads', { body });
    $('#new-thread-dialog').close('created');
    announce(`Thread ${thread.id} created.`);
    await loadThreads({ reset: true });
    navigate(thread.scope, thread.id);
  } catch (error) {
    showFormProblem(form, error);
  }
}

// ---------------------------------------------------------------- start

function start() {
  wireDialogs();
  onUnauthorized(problem => signOut(`Signed out: ${problem.detail || problem.title}`));
  $('#sign-in-form').addEventListener('submit', signIn);
  $('#sign-out').addEventListener('click', () => signOut(''));
  $('#thread-filters').addEventListener('submit', e => { e.preventDefault(); loadThreads({ reset: true }); });
  $('#more-threads').addEventListener('click', () => loadThreads({ reset: false }));
  $('#new-thread').addEventListener('click', openNewThread);
  $('#new-thread-form').addEventListener('submit', createThread);
  initThread({ changed: () => loadThreads({ reset: true }), navigate });
  initUsage();
  followColorScheme(() => { redrawThreadCharts(); redrawUsageCharts(); });
  window.addEventListener('hashchange', route);
  route();
  document.documentElement.dataset.ready = 'true';
}

start();
