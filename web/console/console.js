// The call-handler console: the live queue (server-sent events), claim, answers and the
// decision's explanation, attempts and completion.
import { api as call, h } from '../shared.js';

// The staff credential lives in this tab only (sessionStorage); who you are comes from it.
let apiKey = sessionStorage.getItem('apiKey') ?? '';
let me = null;
let selected = null;
let stream = null;
const api = (method, url, body) => call(method, url, body, { 'x-api-key': apiKey });
const handlerId = () => me?.id;

const OUTCOMES = {
  advice_given: 'Advice given',
  referred_999: 'Referred to 999',
  referred_ae: 'Referred to A&E',
  booked_gp_or_urgent_care: 'Booked with GP or urgent care',
  no_further_action: 'No further action',
};

function minutes(seconds) {
  const m = Math.round(seconds / 60);
  return m >= 60 ? `${Math.floor(m / 60)}h ${m % 60}m` : `${m}m`;
}

const REVIEW = { escalated: 'Escalated since the request: clinical review', no_answer: 'Clinical review: no answer 3 times' };

/** A decision in a line: its kind, disposition and time frame. */
function decisionText(d) {
  const kind = { escalate: 'Escalation', callback: 'Callback', self_care: 'Self-care' }[d.kind];
  return `${kind}: ${d.disposition}${d.within ? ` (within ${d.within.replace('PT', '').toLowerCase()})` : ''}`;
}

const summaryRow = ([key, value]) => h('div', { class: 'nhsuk-summary-list__row' }, h('dt', { class: 'nhsuk-summary-list__key' }, key), h('dd', { class: 'nhsuk-summary-list__value' }, value));

function notice(text) {
  document.getElementById('stats').textContent = text;
}

async function act(id, action, body) {
  const res = await api('POST', `/v1/callbacks/${id}/${action}`, body);
  if (res.status >= 400) notice(res.detail);
  await refresh();
  if (action === 'claim' && !(res.status >= 400)) await showDetail(id);
  else if (selected === id) await showDetail(id);
}

async function refresh() {
  const [{ items }, stats] = await Promise.all([api('GET', '/v1/callbacks?limit=100'), api('GET', '/v1/callbacks/stats')]);
  const windows = Object.entries(stats.byWindow)
    .map(([w, n]) => `${n} within ${w.replace('PT', '').toLowerCase()}`)
    .join(', ');
  notice(`${stats.waiting} waiting (${windows || 'none'}), ${stats.claimed} claimed, ${stats.overdue} overdue.`);
  document.getElementById('queue').replaceChildren(
    ...items.map((item) => {
      const due = item.overdueBySeconds !== undefined ? `Overdue by ${minutes(item.overdueBySeconds)}` : `In ${minutes(item.timeLeftSeconds)}`;
      const claim = h('button', { class: 'nhsuk-button nhsuk-button--secondary nhsuk-button--small', type: 'button', 'data-claim': item.id }, 'Claim');
      claim.addEventListener('click', () => act(item.id, 'claim'));
      const view = h('button', { class: 'nhsuk-button nhsuk-button--reverse nhsuk-button--small', type: 'button' }, 'View');
      view.addEventListener('click', () => showDetail(item.id));
      return h(
        'tr',
        { class: `nhsuk-table__row${item.overdueBySeconds !== undefined ? ' overdue' : ''}`, 'data-id': item.id },
        h('td', { class: 'nhsuk-table__cell' }, due),
        h('td', { class: 'nhsuk-table__cell' }, `${item.disposition} (${item.within})`),
        h(
          'td',
          { class: 'nhsuk-table__cell' },
          item.status === 'claimed' ? `Claimed by ${item.claimedBy}` : 'Waiting',
          item.needsReview ? h('strong', { class: 'nhsuk-tag nhsuk-tag--red' }, REVIEW[item.reviewReason] ?? 'Clinical review') : null,
          item.answersChanged ? h('strong', { class: 'nhsuk-tag nhsuk-tag--orange' }, 'Answers changed') : null,
        ),
        h('td', { class: 'nhsuk-table__cell' }, String(item.attempts)),
        h('td', { class: 'nhsuk-table__cell' }, item.status === 'waiting' ? claim : view),
      );
    }),
  );
}

function answerText(answer) {
  const { question, value } = answer;
  const label = (v) => question.options?.find((o) => o.value === v)?.label ?? String(v);
  if (question.type === 'yes_no') return value ? 'Yes' : 'No';
  if (Array.isArray(value)) return value.map(label).join('; ');
  return question.type === 'number' ? `${value} ${question.unit}` : label(value);
}

async function showDetail(id) {
  selected = id;
  const c = await api('GET', `/v1/callbacks/${id}`);
  const mine = c.status === 'claimed' && c.claimedBy === handlerId();
  const button = (text, onClick, kind = '') => {
    const b = h('button', { class: `nhsuk-button ${kind}`, type: 'button' }, text);
    b.addEventListener('click', onClick);
    return b;
  };
  const complete = h(
    'form',
    { id: 'complete-form' },
    h(
      'div',
      { class: 'nhsuk-form-group' },
      h('label', { class: 'nhsuk-label', for: 'outcome' }, 'Outcome of the call'),
      h('select', { class: 'nhsuk-select', id: 'outcome', name: 'outcome' }, ...Object.entries(OUTCOMES).map(([v, t]) => h('option', { value: v }, t))),
    ),
    h('div', { class: 'nhsuk-form-group' }, h('label', { class: 'nhsuk-label', for: 'notes' }, 'Notes'), h('textarea', { class: 'nhsuk-textarea', id: 'notes', name: 'notes', rows: '3' })),
    h('button', { class: 'nhsuk-button', type: 'submit' }, 'Complete'),
  );
  complete.addEventListener('submit', (event) => {
    event.preventDefault();
    act(id, 'complete', { outcome: complete.querySelector('#outcome').value, notes: complete.querySelector('#notes').value });
  });
  document.getElementById('detail').replaceChildren(
    h(
      'div',
      {},
      h(
        'dl',
        { class: 'nhsuk-summary-list' },
        ...[
          ['Name', c.name],
          ['Phone', h('a', { href: `tel:${c.phone}` }, c.phone)],
          ['Status', c.status === 'claimed' ? `Claimed by ${c.claimedBy} until ${new Date(c.leaseUntil).toLocaleTimeString('en-GB')}` : c.status],
          ['Urgency', `${c.disposition}, due ${new Date(c.dueAt).toLocaleTimeString('en-GB')}`],
          ['Attempts', String(c.attempts)],
        ].map(summaryRow),
      ),
      c.needsReview ? h('p', { class: 'nhsuk-tag nhsuk-tag--red', id: 'review' }, REVIEW[c.reviewReason] ?? 'Clinical review') : null,
      c.sinceRequest
        ? h(
            'div',
            { class: 'nhsuk-warning-callout', id: 'answers-changed' },
            h('h3', { class: 'nhsuk-warning-callout__label' }, 'Answers changed after the request'),
            h(
              'dl',
              { class: 'nhsuk-summary-list' },
              ...[
                ['When asked', decisionText(c.sinceRequest.whenAsked)],
                ['Latest', c.sinceRequest.latest ? decisionText(c.sinceRequest.latest) : 'Not finished answering'],
                ['Urgency kept', `${c.disposition}: the most urgent decision since the request`],
              ].map(summaryRow),
            ),
            c.sinceRequest.stillAnswering ? h('p', {}, 'The patient is changing answers now.') : null,
          )
        : null,
      h('h3', {}, 'Why this callback'),
      h('p', { id: 'explanation' }, c.explanation?.summary ?? 'No explanation recorded.'),
      c.explanation?.ruledOut.length
        ? h(
            'details',
            { class: 'nhsuk-details' },
            h('summary', { class: 'nhsuk-details__summary' }, h('span', { class: 'nhsuk-details__summary-text' }, 'Red flags ruled out')),
            h('div', { class: 'nhsuk-details__text' }, h('ul', { class: 'explanation' }, ...c.explanation.ruledOut.map((r) => h('li', {}, r)))),
          )
        : null,
      h('h3', {}, 'Answers'),
      h(
        'dl',
        { class: 'nhsuk-summary-list', id: 'answers' },
        ...c.answers.map((a) => h('div', { class: 'nhsuk-summary-list__row' }, h('dt', { class: 'nhsuk-summary-list__key' }, a.question.text), h('dd', { class: 'nhsuk-summary-list__value' }, answerText(a)))),
      ),
      mine
        ? h(
            'div',
            {},
            button('No answer: record attempt', () => act(id, 'attempts'), 'nhsuk-button--secondary'),
            button('Renew claim', () => act(id, 'renew'), 'nhsuk-button--secondary'),
            button('Release', () => act(id, 'release'), 'nhsuk-button--secondary'),
            complete,
          )
        : null,
      c.status === 'waiting' ? button('Claim', () => act(id, 'claim')) : null,
    ),
  );
}

// Server-sent events: any change to the queue refreshes it, so no polling is needed. Read with
// fetch rather than EventSource, which cannot send the credential header.
async function listen() {
  stream?.abort();
  stream = new AbortController();
  const res = await fetch('/v1/callbacks/events', { headers: { 'x-api-key': apiKey }, signal: stream.signal });
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    const events = buffer.split('\n\n');
    buffer = events.pop();
    for (const event of events) {
      const data = /^data: (.*)$/m.exec(event)?.[1];
      if (!data) continue;
      await refresh();
      if (selected && JSON.parse(data).id === selected) await showDetail(selected);
    }
  }
}

async function signIn() {
  const who = await api('GET', '/v1/callbacks/me');
  if (who.status >= 400) {
    me = null;
    document.getElementById('signed-in').textContent = apiKey ? `Not signed in: ${who.detail}` : 'Sign in with your staff API key to see the queue.';
    return;
  }
  me = who;
  sessionStorage.setItem('apiKey', apiKey);
  document.getElementById('signed-in').textContent = `Signed in as ${me.id} (${me.roles.join(', ')})`;
  await refresh();
  listen().catch(() => notice('Live updates stopped; reload the page.'));
}

document.getElementById('sign-in').addEventListener('submit', (event) => {
  event.preventDefault();
  apiKey = document.getElementById('api-key').value.trim();
  signIn();
});
signIn();
