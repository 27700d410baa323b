// Service reports: four charts (Chart.js, served by the service) with the table each is drawn
// from and a CSV download of it. The filters live in the URL, so a report can be shared as a link.
import { api as call, h } from '../shared.js';

/* global Chart */

// The staff credential lives in this tab only (sessionStorage), shared with the console.
let apiKey = sessionStorage.getItem('apiKey') ?? '';
const api = (url) => call('GET', url, undefined, { 'x-api-key': apiKey });

const KINDS = [
  ['self_care', 'Self-care', '#007f3b'],
  ['callback', 'Callback', '#005eb8'],
  ['escalate', 'Escalation', '#d5281b'],
];
const CAUSES = [
  ['no_rule_decided', 'No rule decided'],
  ['engine_error', 'Engine error'],
  ['timeout', 'Timed out'],
];
const WINDOW_COLOURS = ['#005eb8', '#330072', '#ae2573', '#ed8b00', '#00a499', '#425563'];
const DAY_MS = 86_400_000;
const isoDay = (ms) => new Date(ms).toISOString().slice(0, 10);
const percent = (share) => (share === null ? null : Math.round(share * 1000) / 10);
const windowText = (within) => within.replace(/^PT?/, '').toLowerCase();

/** The filters from the URL, with the last 30 days by default. */
function filters() {
  const q = new URLSearchParams(location.search);
  const today = Date.parse(`${isoDay(Date.now())}T00:00:00Z`);
  return {
    from: q.get('from') || isoDay(today - 29 * DAY_MS),
    to: q.get('to') || isoDay(today + DAY_MS),
    interval: q.get('interval') || 'day',
    topic: q.get('topic') || '',
  };
}

function query(f, extra = {}) {
  const q = new URLSearchParams({ from: f.from, to: f.to, interval: f.interval, ...extra });
  return q.toString();
}

function notice(text) {
  document.getElementById('signed-in').textContent = text;
}

function problem(text) {
  const p = document.getElementById('problem');
  p.textContent = text ?? '';
  p.hidden = !text;
}

/** A table under a chart, and the button that downloads its CSV (the exported form). */
function tableFor(section, caption, columns, rows, csvPath) {
  section.querySelector('.table-scroll')?.remove();
  section.querySelector('.csv')?.remove();
  const table = h(
    'table',
    { class: 'nhsuk-table' },
    h('caption', { class: 'nhsuk-table__caption' }, caption),
    h('thead', { class: 'nhsuk-table__head' }, h('tr', {}, ...columns.map((c) => h('th', { scope: 'col' }, c)))),
    h(
      'tbody',
      { class: 'nhsuk-table__body' },
      ...rows.map((row) => h('tr', { class: 'nhsuk-table__row' }, ...row.map((cell, i) => (i === 0 ? h('th', { scope: 'row' }, cell) : h('td', { class: 'nhsuk-table__cell' }, cell ?? '-'))))),
    ),
  );
  const download = h('button', { class: 'nhsuk-button nhsuk-button--secondary csv', type: 'button' }, `Download CSV: ${caption}`);
  download.addEventListener('click', () => downloadCsv(csvPath));
  // Focusable and named, so that a keyboard can scroll a table wider than a phone.
  section.append(h('div', { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': `${caption} (table)` }, table), download);
}

async function downloadCsv(path) {
  const res = await fetch(path, { headers: { 'x-api-key': apiKey } });
  if (!res.ok) return problem(`The download failed (${res.status}).`);
  const name = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? 'report.csv';
  const link = h('a', { href: URL.createObjectURL(await res.blob()), download: name });
  document.body.append(link);
  link.click();
  link.remove();
  URL.revokeObjectURL(link.href);
}

/** A chart on the section's canvas, replacing any drawn before. */
function draw(section, config) {
  const canvas = section.querySelector('canvas');
  Chart.getChart(canvas)?.destroy();
  return new Chart(canvas, {
    ...config,
    options: { animation: false, responsive: true, maintainAspectRatio: false, ...config.options, plugins: { legend: { position: 'bottom' }, ...config.options?.plugins } },
  });
}

function outcomeMix(report) {
  const section = document.getElementById('outcome-mix');
  const labels = report.intervals.map((i) => i.start);
  const series = [
    ...KINDS.map(([kind, label, colour]) => ({ label, colour, values: report.intervals.map((i) => i.outcomes[kind]) })),
    { label: 'Abandoned', colour: '#768692', values: report.intervals.map((i) => i.abandoned) },
  ];
  draw(section, {
    type: 'bar',
    data: { labels, datasets: series.map((s) => ({ label: s.label, data: s.values, backgroundColor: s.colour })) },
    options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, title: { display: true, text: 'Assessments' } } } },
  });
  tableFor(
    section,
    'Outcomes per interval',
    ['Interval from', ...series.map((s) => s.label), 'Started'],
    report.intervals.map((interval, i) => [interval.start, ...series.map((s) => s.values[i]), interval.started]),
    `/v1/reports/outcomes.csv?${query(filters(), { ...topicFilter(), table: 'intervals' })}`,
  );
}

function callbackWindows(report) {
  const section = document.getElementById('callback-windows');
  const labels = [...new Set(report.windows.map((w) => w.start))].sort();
  const windows = [...new Set(report.windows.map((w) => w.within))].sort();
  const cell = (start, within) => report.windows.find((w) => w.start === start && w.within === within);
  draw(section, {
    type: 'line',
    data: {
      labels,
      datasets: [
        ...windows.map((within, i) => ({
          label: `Within ${windowText(within)}`,
          data: labels.map((start) => percent(cell(start, within)?.share ?? null)),
          borderColor: WINDOW_COLOURS[i % WINDOW_COLOURS.length],
          spanGaps: true,
        })),
        { label: 'Target', data: labels.map(() => percent(report.targetShare)), borderColor: '#212b32', borderDash: [6, 4], pointRadius: 0 },
      ],
    },
    options: { scales: { y: { min: 0, max: 100, title: { display: true, text: '% first called within window' } } } },
  });
  tableFor(
    section,
    'Callbacks per interval and urgency',
    ['Interval from', 'Urgency', 'Requests', 'First call within window', '% within window'],
    report.windows.map((w) => [w.start, `Within ${windowText(w.within)}`, w.requests, w.withinWindow, percent(w.share)]),
    `/v1/reports/callbacks.csv?${query(filters(), { table: 'windows' })}`,
  );
}

function waiting(report) {
  const section = document.getElementById('waiting');
  const hour = (n) => `${String(n).padStart(2, '0')}:00`;
  draw(section, {
    type: 'bar',
    data: { labels: report.waiting.map((w) => hour(w.hour)), datasets: [{ label: 'Average waiting', data: report.waiting.map((w) => w.average), backgroundColor: '#005eb8' }] },
    options: { scales: { y: { beginAtZero: true, title: { display: true, text: 'Requests waiting' } } } },
  });
  tableFor(
    section,
    'Requests waiting for a first call, by hour of the day (UTC)',
    ['Hour', 'Average waiting', 'Most waiting'],
    report.waiting.map((w) => [hour(w.hour), w.average, w.peak]),
    `/v1/reports/callbacks.csv?${query(filters(), { table: 'waiting' })}`,
  );
}

function fallbacks(report, titles) {
  const section = document.getElementById('fallbacks');
  const top = report.fallbacks.slice(0, 10);
  const names = top.map((f) => titles.get(f.topicId) ?? f.topicId);
  draw(section, {
    type: 'bar',
    data: { labels: names, datasets: CAUSES.map(([cause, label], i) => ({ label, data: top.map((f) => f.causes[cause]), backgroundColor: ['#ed8b00', '#d5281b', '#330072'][i] })) },
    options: { indexAxis: 'y', scales: { x: { stacked: true, beginAtZero: true, title: { display: true, text: 'Fallbacks' } }, y: { stacked: true } } },
  });
  tableFor(
    section,
    'Topics with the most fallbacks',
    ['Topic', 'Fallbacks', ...CAUSES.map(([, label]) => label)],
    top.map((f, i) => [names[i], f.total, ...CAUSES.map(([cause]) => f.causes[cause])]),
    `/v1/reports/outcomes.csv?${query(filters(), { ...topicFilter(), table: 'fallbacks' })}`,
  );
}

const topicFilter = () => (filters().topic ? { topic: filters().topic } : {});

async function show() {
  const f = filters();
  const [outcomes, callbacks, pathways] = await Promise.all([api(`/v1/reports/outcomes?${query(f, topicFilter())}`), api(`/v1/reports/callbacks?${query(f)}`), api('/v1/pathways')]);
  if (outcomes.status === 401 || outcomes.status === 403) {
    document.getElementById('reports').hidden = true;
    notice(apiKey ? `Not signed in: ${outcomes.detail}` : 'Sign in with your staff API key to see the reports.');
    return;
  }
  sessionStorage.setItem('apiKey', apiKey);
  notice('Signed in.');
  if (outcomes.status >= 400 || callbacks.status >= 400) {
    document.getElementById('reports').hidden = true;
    problem(outcomes.detail ?? callbacks.detail);
    return;
  }
  problem();
  const titles = new Map((pathways.topics ?? []).map((t) => [t.id, t.title]));
  document.getElementById('reports').hidden = false;
  outcomeMix(outcomes);
  callbackWindows(callbacks);
  waiting(callbacks);
  fallbacks(outcomes, titles);
  document.body.dataset.reportsShown = f.from;
}

async function fillFilters() {
  const f = filters();
  for (const name of ['from', 'to', 'interval']) document.getElementById(name).value = f[name];
  const { topics = [] } = await api('/v1/pathways');
  const select = document.getElementById('topic');
  select.append(...topics.map((t) => h('option', { value: t.id }, t.title)));
  select.value = f.topic;
}

document.getElementById('sign-in').addEventListener('submit', (event) => {
  event.preventDefault();
  apiKey = document.getElementById('api-key').value.trim();
  show();
});
// An empty topic stays out of the URL, so "All topics" links stay short.
document.getElementById('filters').addEventListener('submit', () => {
  const topic = document.getElementById('topic');
  if (!topic.value) topic.disabled = true;
});
await fillFilters();
await show();
