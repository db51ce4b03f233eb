// Usage charts with Chart.js (vendor/chart.umd.min.js, loaded before the modules): input tokens split into cache reads,
// cache writes and uncached input, stacked beside output tokens, with the cost on its own axis. The chart object is the
// page's record of what it drew: tests read it with Chart.getChart(canvas).
import { usd, tokens } from './format.js';

const Chart = globalThis.Chart;

function palette() {
  const css = getComputedStyle(document.documentElement);
  const v = name => css.getPropertyValue(name).trim();
  return {
    read: v('--chart-read'), write: v('--chart-write'), uncached: v('--chart-uncached'), output: v('--chart-output'),
    cost: v('--chart-cost'), text: v('--text-muted'), grid: v('--border'),
  };
}

/**
 * Draws (or redraws) the usage of `rows` on `canvas`: `label(row)` names each point, `title(row)` heads its tooltip.
 * Rows carry the API's field names (input_tokens, cache_read_input_tokens, cache_creation_input_tokens, output_tokens, cost_usd).
 */
export function drawUsage(canvas, rows, { label, title }) {
  Chart.getChart(canvas)?.destroy();
  const c = palette();
  const bar = (name, field, color, stack) => ({
    type: 'bar', label: name, data: rows.map(r => r[field]), backgroundColor: color, stack, yAxisID: 'tokens', borderWidth: 0,
  });
  return new Chart(canvas, {
    data: {
      labels: rows.map(label),
      datasets: [
        bar('Cache reads', 'cache_read_input_tokens', c.read, 'input'),
        bar('Cache writes', 'cache_creation_input_tokens', c.write, 'input'),
        bar('Uncached input', 'input_tokens', c.uncached, 'input'),
        bar('Output', 'output_tokens', c.output, 'output'),
        {
          type: 'line', label: 'Cost (USD)', data: rows.map(r => Number(r.cost_usd)), yAxisID: 'cost',
          borderColor: c.cost, backgroundColor: c.cost, pointRadius: 3, tension: 0, order: -1,
        },
      ],
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      interaction: { mode: 'index', intersect: false },
      color: c.text,
      scales: {
        x: { stacked: true, ticks: { color: c.text }, grid: { color: c.grid } },
        tokens: {
          type: 'linear', position: 'left', stacked: true, beginAtZero: true,
          title: { display: true, text: 'tokens', color: c.text }, ticks: { color: c.text }, grid: { color: c.grid },
        },
        cost: {
          type: 'linear', position: 'right', beginAtZero: true, grid: { drawOnChartArea: false },
          title: { display: true, text: 'USD', color: c.text }, ticks: { color: c.text, callback: v => `$${Number(Number(v).toPrecision(3))}` },
        },
      },
      plugins: {
        legend: { labels: { color: c.text, boxWidth: 12, sort: (a, b) => a.datasetIndex - b.datasetIndex } },
        tooltip: {
          callbacks: {
            title: items => (items.length ? title(rows[items[0].dataIndex]) : ''),
            label: item => item.dataset.yAxisID === 'cost' ? `${item.dataset.label}: ${usd(item.raw)}` : `${item.dataset.label}: ${tokens(item.raw)}`,
          },
        },
      },
    },
  });
}

/** Redraws every chart in `root` when the colour scheme changes (their colours come from the page's CSS). */
export function followColorScheme(redraw) {
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', redraw);
}
