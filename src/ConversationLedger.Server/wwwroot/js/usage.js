// The tenant's usage day by day (GET /v1/usage), with totals: what every thread of the tenant cost.
import { request } from './api.js';
import { drawUsage } from './charts.js';
import { $, h, reason } from './dom.js';
import * as f from './format.js';

let shown = false;

export function initUsage() {
  $('#usage-range').addEventListener('submit', e => { e.preventDefault(); showTenantUsage(); });
}

/** Opens the view; the last 30 days unless a range was chosen. */
export function openUsage() {
  $('#usage-view').hidden = false;
  if (!$('#usage-to').value) {
    const today = new Date();
    $('#usage-to').value = f.isoDay(today);
    $('#usage-from').value = f.isoDay(new Date(today.getTime() - 29 * 86400000));
  }
  shown = true;
  showTenantUsage();
}

export function closeUsage() {
  shown = false;
  $('#usage-view').hidden = true;
}

export function redrawUsageCharts() {
  if (shown) showTenantUsage();
}

async function showTenantUsage() {
  const error = $('#usage-error');
  error.textContent = '';
  try {
    const usage = await request('GET', '/v1/usage', { query: { from: $('#usage-from').value, to: $('#usage-to').value } });
    render(usage);
  } catch (e) {
    error.textContent = reason(e);
  }
}

// The chart has a point for every day of the range (days without calls at zero); the table lists the days with calls.
function everyDay(usage) {
  const byDay = new Map(usage.days.map(d => [d.day, d]));
  const rows = [];
  for (let d = new Date(`${usage.from}T00:00:00Z`); f.isoDay(d) <= usage.to; d = new Date(d.getTime() + 86400000)) {
    const day = f.isoDay(d);
    rows.push(byDay.get(day) ?? { day, calls: 0, input_tokens: 0, cache_read_input_tokens: 0, cache_creation_input_tokens: 0, output_tokens: 0, cost_usd: 0 });
  }
  return rows;
}

function render(usage) {
  const t = usage.totals;
  $('#tenant-usage-summary').replaceChildren(h('span', { class: 'totals' },
    h('span', {}, `${usage.from} to ${usage.to}: `),
    h('span', {}, 'Calls ', h('b', {}, f.tokens(t.calls))),
    h('span', {}, 'Cache reads ', h('b', {}, f.tokens(t.cache_read_input_tokens))),
    h('span', {}, 'Cache writes ', h('b', {}, f.tokens(t.cache_creation_input_tokens))),
    h('span', {}, 'Uncached input ', h('b', {}, f.tokens(t.input_tokens))),
    h('span', {}, 'Output ', h('b', {}, f.tokens(t.output_tokens))),
    h('span', {}, 'Cost ', h('b', {}, f.usd(t.cost_usd)))));
  const days = usage.days;
  drawUsage($('#tenant-usage-chart'), everyDay(usage), { label: d => d.day, title: d => `${d.day} · ${f.count(d.calls, 'call')}` });
  const table = $('#tenant-usage-table');
  $('tbody', table).replaceChildren(...days.map(d => h('tr', {},
    h('th', { scope: 'row' }, d.day),
    h('td', { class: 'num' }, f.tokens(d.calls)),
    h('td', { class: 'num' }, f.tokens(d.cache_read_input_tokens)),
    h('td', { class: 'num' }, f.tokens(d.cache_creation_input_tokens)),
    h('td', { class: 'num' }, f.tokens(d.input_tokens)),
    h('td', { class: 'num' }, f.tokens(d.output_tokens)),
    h('td', { class: 'num' }, f.usd(d.cost_usd)))));
  if (days.length === 0) $('tbody', table).append(h('tr', {}, h('td', { colspan: 7, class: 'muted' }, 'No calls in this range.')));
  $('tfoot', table).replaceChildren(h('tr', {},
    h('th', { scope: 'row' }, 'Totals'),
    h('td', { class: 'num' }, f.tokens(t.calls)),
    h('td', { class: 'num' }, f.tokens(t.cache_read_input_tokens)),
    h('td', { class: 'num' }, f.tokens(t.cache_creation_input_tokens)),
    h('td', { class: 'num' }, f.tokens(t.input_tokens)),
    h('td', { class: 'num' }, f.tokens(t.output_tokens)),
    h('td', { class: 'num' }, f.usd(t.cost_usd))));
}
