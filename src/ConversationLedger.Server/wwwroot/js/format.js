// Numbers, money and times as the page shows them (English, the service's own language).
const integer = new Intl.NumberFormat('en', { maximumFractionDigits: 0 });
const percent = new Intl.NumberFormat('en', { style: 'percent', maximumFractionDigits: 1 });

export const tokens = n => integer.format(n ?? 0);
export const fill = f => percent.format(f ?? 0);

/** US dollars: small amounts with enough places to tell calls apart. */
export function usd(value) {
  const v = Number(value ?? 0);
  if (v === 0) return '$0';
  if (Math.abs(v) < 0.01) return `$${v.toFixed(6)}`;
  return `$${v.toFixed(4)}`;
}

export function dateTime(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleString('en', { dateStyle: 'medium', timeStyle: 'medium' });
}

export function time(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleTimeString('en', { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** "3 min ago", "yesterday" … */
export function ago(iso, now = Date.now()) {
  const seconds = Math.round((now - new Date(iso).getTime()) / 1000);
  if (!Number.isFinite(seconds)) return '';
  const units = [['year', 31536000], ['month', 2592000], ['day', 86400], ['hour', 3600], ['minute', 60]];
  const rtf = new Intl.RelativeTimeFormat('en', { numeric: 'auto', style: 'short' });
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) return rtf.format(-Math.round(seconds / size), unit);
  }
  return 'just now';
}

/** "1 message", "3 messages". */
export const count = (n, one, many = `${one}s`) => `${integer.format(n)} ${n === 1 ? one : many}`;

/** A day as the API takes it: YYYY-MM-DD (UTC). */
export const isoDay = d => d.toISOString().slice(0, 10);
