// The call-handler console: the live queue (server-sent events) with time left counting down,
// filters, claim, the patient's answers and the advice they were given, attempts with notes,
// completion and cancelling. Focus stays where the handler is working; changes made by others
// are announced in a live region without moving it.
import { api as call, durationWords, field, h } from '../shared.js';

// The staff credential lives in this tab only (sessionStorage); who you are comes from it. An
// identity provider's sign-in token (a JWT: three dot-separated parts) is sent as a bearer token.
let credential = sessionStorage.getItem('credential') ?? '';
let me = null;
let selected = null;
let stream = null;
// The last page of the queue, and when it was read: time left counts down from there.
let items = [];
let readAt = 0;
const overdueIds = new Set();
// Requests this console just acted on: their server-sent events are not announced again.
const ownActions = new Set();

const authHeaders = () => (/^[\w-]+\.[\w-]+\.[\w-]+$/.test(credential) ? { authorization: `Bearer ${credential}` } : { 'x-api-key': credential });
const api = (method, url, body) => call(method, url, body, authHeaders());
const $ = (id) => document.getElementById(id);

const OUTCOMES = {
  advice_given: 'Advice given',
  referred_999: 'Referred to 999',
  referred_ae: 'Referred to A&E',
  booked_gp_or_urgent_care: 'Booked with GP or urgent care',
  no_further_action: 'No further action',
};
const AGE_BANDS = { adult: 'Adult', child: 'Child (5 to 15)', under5: 'Under 5' };
const SEXES = { female: 'female', male: 'male' };
const REVIEW = { escalated: 'Escalated since the request: clinical review', no_answer: 'Clinical review: no answer 3 times' };
const STATUSES = { waiting: 'Waiting', completed: 'Completed', cancelled: 'Cancelled' };
const ACTIONS = {
  requested: 'Call back requested',
  claim: 'Claimed',
  renew: 'Claim renewed',
  release: 'Released',
  attempt: 'Called, no answer',
  complete: 'Completed',
  cancel: 'Cancelled',
  cancel_override: 'Cancelled (override)',
  lease_expired: 'Claim ran out',
  contact_read: 'Contact details read',
  urgency_raised: 'Answers changed: more urgent',
  escalated: 'Answers changed: escalated',
  answers_changed: 'Answers changed',
};

// An escalation's window is PT0M: now.
const withinWords = (within) => (seconds(within) === 0 ? 'now' : `within ${durationWords(within)}`);
const urgencyWords = (within) => `Call back ${withinWords(within)}`;
const patientWords = (c) => `${AGE_BANDS[c.ageBand]}, ${SEXES[c.sex]}`;
const time = (iso) => new Date(iso).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' });

/** Who holds a claim, in words: you, or the handler's own part of the id (the JWT subject, or the key's). */
function handlerWords(id) {
  if (id === me?.id) return 'you';
  return id.startsWith('jwt:') ? id.slice(id.indexOf('|') + 1) : `handler ${id.split(':').pop()}`;
}

/** A decision in words: what the patient was told to do. */
function decisionWords(d) {
  if (d.kind === 'escalate') return `Emergency care ${d.within ? withinWords(d.within) : 'now'}`;
  if (d.kind === 'callback') return urgencyWords(d.within);
  return 'Self-care';
}

/** Seconds left (negative once overdue), as of now, from the last read of the queue. */
function secondsLeft(item) {
  const atRead = item.timeLeftSeconds ?? -item.overdueBySeconds;
  return Math.round(atRead - (performance.now() - readAt) / 1000);
}

function leftWords(seconds) {
  const s = Math.abs(seconds);
  const text = s >= 3600 ? `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min` : `${Math.floor(s / 60)} min ${s % 60} s`;
  return seconds < 0 ? `Overdue by ${text}` : `${text} left`;
}

/** A message about the handler's own action: it stays until dismissed or the next action replaces it. */
function say(text, kind = 'info') {
  const box = $('message');
  const dismiss = h('button', { class: 'nhsuk-button nhsuk-button--secondary nhsuk-button--small', type: 'button' }, 'Dismiss');
  dismiss.addEventListener('click', () => {
    box.hidden = true;
    box.replaceChildren();
    $('queue-heading').setAttribute('tabindex', '-1');
    $('queue-heading').focus();
  });
  box.className = `console-message console-message--${kind}`;
  box.replaceChildren(h('p', { id: 'message-text' }, text), dismiss);
  box.hidden = false;
}

/** Changes made by others, said by screen readers without moving focus. */
function announce(text) {
  $('live').textContent = text;
}

/** What went wrong, in the console's words. */
function problemWords(res, id) {
  const item = items.find((i) => i.id === id);
  if (res.status === 409 && res.title === 'Claimed by someone else') {
    return item?.claimedBy ? `Someone else claimed this request first: ${handlerWords(item.claimedBy)}, until ${time(item.leaseUntil)}.` : 'Someone else claimed this request first.';
  }
  if (res.status === 409 && res.title === 'Callback closed') return 'This request is already closed: it was completed or cancelled.';
  if (res.status === 409) return 'Your claim on this request has ended. Claim it again to carry on.';
  if (res.status === 403) return 'Your role does not allow this.';
  if (res.status === 401) return 'You are signed out. Sign in again.';
  return 'Sorry, that did not work. Try again.';
}

const SUCCESS = {
  claim: 'You claimed this request. Call the patient now.',
  renew: 'Your claim is renewed.',
  release: 'You released this request. It is back in the queue.',
  attempts: 'Call attempt recorded. The request is back in the queue.',
  complete: 'Request completed.',
  cancel: 'Request cancelled.',
};

async function act(id, action, body) {
  ownActions.add(id);
  const res = await api('POST', `/v1/callbacks/${id}/${action}`, body);
  const failed = res.status >= 400;
  if (failed) ownActions.delete(id);
  await refresh();
  say(failed ? problemWords(res, id) : SUCCESS[action], failed ? 'error' : 'info');
  // The details (an audited read of the contact details) only for a claim won, or the one open.
  if ((action === 'claim' && !failed) || selected === id) await showDetail(id);
  // Focus stays on the row acted on; a request that left the queue leaves focus on the message.
  const row = document.querySelector(`#queue [data-row="${id}"]`);
  (row ?? $('message')).focus();
}

async function refresh() {
  const show = $('show').value;
  const query = show === 'open' ? '' : `&status=${show}`;
  const [{ items: read = [] }, stats] = await Promise.all([api('GET', `/v1/callbacks?limit=200${query}`), api('GET', '/v1/callbacks/stats')]);
  items = read;
  readAt = performance.now();
  for (const item of items) if (secondsLeft(item) < 0) overdueIds.add(item.id);
  if (stats.waiting !== undefined) {
    const windows = Object.entries(stats.byWindow)
      .map(([w, n]) => `${n} ${withinWords(w)}`)
      .join(', ');
    $('stats').textContent = `${stats.waiting} waiting (${windows || 'none'}), ${stats.claimed} claimed, ${stats.overdue} overdue.`;
  }
  urgencyOptions();
  renderQueue();
}

/** The urgency filter offers the windows in the queue, shortest first, keeping the choice made. */
function urgencyOptions() {
  const select = $('urgency');
  const chosen = select.value;
  const windows = [...new Set(items.map((i) => i.within))].sort((a, b) => seconds(a) - seconds(b));
  if (chosen && !windows.includes(chosen)) windows.push(chosen);
  select.replaceChildren(h('option', { value: '' }, 'Any urgency'), ...windows.map((w) => h('option', { value: w, selected: w === chosen }, urgencyWords(w))));
}

const UNIT_SECONDS = { W: 604800, D: 86400, H: 3600, M: 60 };
const seconds = (iso) => [...iso.replace(/^P/, '').matchAll(/(\d+)([WDHM])/g)].reduce((sum, [, n, unit]) => sum + Number(n) * UNIT_SECONDS[unit], 0);

function visible() {
  const urgency = $('urgency').value;
  return items.filter(
    (i) => (!urgency || i.within === urgency) && (!$('overdue-only').checked || (i.status !== 'completed' && i.status !== 'cancelled' && secondsLeft(i) < 0)) && (!$('flagged-only').checked || i.needsReview),
  );
}

/** Rebuilds the rows; the element that had focus (a row's button) gets it back. */
function renderQueue() {
  const focused = document.activeElement?.getAttribute('data-row');
  const shown = visible();
  $('queue').replaceChildren(...shown.map(row));
  $('queue-empty').hidden = shown.length > 0;
  if (focused) document.querySelector(`#queue [data-row="${focused}"]`)?.focus();
  tick();
}

function cell(heading, ...children) {
  return h('td', { class: 'nhsuk-table__cell' }, h('span', { class: 'nhsuk-table-responsive__heading', 'aria-hidden': 'true' }, `${heading} `), ...children);
}

function row(item) {
  const open = item.status === 'waiting' || item.status === 'claimed';
  const label = `${item.topic}, ${patientWords(item)}`;
  const claim = item.status === 'waiting';
  const button = h(
    'button',
    { class: `nhsuk-button nhsuk-button--small ${claim ? '' : 'nhsuk-button--secondary'}`, type: 'button', 'data-row': item.id, ...(claim ? { 'data-claim': item.id } : {}) },
    claim ? 'Claim' : 'View',
    h('span', { class: 'nhsuk-u-visually-hidden' }, ` ${label}`),
  );
  button.addEventListener('click', () => (claim ? act(item.id, 'claim') : showDetail(item.id)));
  const status = item.status === 'claimed' ? `Claimed by ${handlerWords(item.claimedBy)}` : STATUSES[item.status];
  return h(
    'tr',
    { class: 'nhsuk-table__row', 'data-id': item.id },
    cell('Time left', open ? h('span', { class: 'time-left' }) : `Closed`),
    cell('Urgency', urgencyWords(item.within)),
    cell('Topic', item.topic),
    cell('Patient', patientWords(item)),
    cell(
      'Status',
      status,
      item.needsReview ? h('strong', { class: 'nhsuk-tag nhsuk-tag--red' }, REVIEW[item.reviewReason] ?? 'Clinical review') : null,
      item.answersChanged ? h('strong', { class: 'nhsuk-tag nhsuk-tag--orange' }, 'Answers changed') : null,
    ),
    cell('Calls', String(item.attempts)),
    cell('Action', button),
  );
}

/** Every second: time left counts down, and a request that runs out turns overdue and is announced. */
function tick() {
  for (const tr of $('queue').children) {
    const item = items.find((i) => i.id === tr.getAttribute('data-id'));
    const left = tr.querySelector('.time-left');
    if (!item || !left) continue;
    const s = secondsLeft(item);
    left.textContent = leftWords(s);
    tr.classList.toggle('overdue', s < 0);
    if (s < 0 && !tr.querySelector('.overdue-tag')) left.after(' ', h('strong', { class: 'nhsuk-tag nhsuk-tag--red overdue-tag' }, 'Overdue'));
  }
  const newlyOverdue = items.filter((i) => (i.status === 'waiting' || i.status === 'claimed') && secondsLeft(i) < 0 && !overdueIds.has(i.id));
  for (const item of newlyOverdue) overdueIds.add(item.id);
  if (newlyOverdue.length) {
    announce(`Now overdue: ${newlyOverdue.map((i) => `${i.topic}, ${patientWords(i)}`).join('; ')}.`);
    if ($('overdue-only').checked) renderQueue();
  }
}

/** An answer as the patient chose it: the options' own words, never their codes. */
function answerText({ question, value }) {
  if (value === 'unsure') return question.unsure?.label ?? "I'm not sure";
  const label = (v) => question.options?.find((o) => o.value === v)?.label ?? String(v);
  if (question.type === 'yes_no') return value ? 'Yes' : 'No';
  if (question.type === 'duration') return durationWords(value);
  if (Array.isArray(value)) return value.map(label).join('; ');
  return question.type === 'number' ? `${value} ${question.unit}` : label(value);
}

const summaryRow = ([key, value]) => h('div', { class: 'nhsuk-summary-list__row' }, h('dt', { class: 'nhsuk-summary-list__key' }, key), h('dd', { class: 'nhsuk-summary-list__value' }, value));

function form(id, submitText, fields, onSubmit, kind = '') {
  const f = h('form', { id, novalidate: true }, ...fields, h('button', { class: `nhsuk-button ${kind}`, type: 'submit' }, submitText));
  f.addEventListener('submit', (event) => {
    event.preventDefault();
    onSubmit(f);
  });
  return f;
}

function historyLine(e) {
  const who = e.handlerId ? ` (${handlerWords(e.handlerId)})` : '';
  const words = e.detail?.notes ?? e.detail?.reason;
  return h('li', {}, `${time(e.at)} ${ACTIONS[e.action] ?? e.action}${who}${words ? `: ${words}` : ''}`);
}

async function showDetail(id) {
  selected = id;
  const c = await api('GET', `/v1/callbacks/${id}`);
  if (c.status >= 400) return say(problemWords(c, id), 'error');
  const mine = c.status === 'claimed' && c.claimedBy === me?.id;
  const open = c.status === 'waiting' || c.status === 'claimed';
  $('detail-heading').textContent = `${c.topic}: ${patientWords(c)}`;
  const button = (text, onClick, kind = 'nhsuk-button--secondary') => {
    const b = h('button', { class: `nhsuk-button ${kind}`, type: 'button' }, text);
    b.addEventListener('click', onClick);
    return b;
  };
  const actions = mine
    ? h(
        'div',
        { id: 'actions' },
        h('h3', {}, 'After the call'),
        form(
          'complete-form',
          'Complete',
          [
            h(
              'div',
              { class: 'nhsuk-form-group' },
              h('label', { class: 'nhsuk-label', for: 'outcome' }, 'Outcome of the call'),
              h('select', { class: 'nhsuk-select', id: 'outcome', name: 'outcome' }, ...Object.entries(OUTCOMES).map(([v, t]) => h('option', { value: v }, t))),
            ),
            field('textarea', 'notes', 'Notes', null, { rows: '2' }),
          ],
          (f) => act(id, 'complete', { outcome: f.querySelector('#outcome').value, notes: f.querySelector('#notes').value }),
        ),
        h('h3', {}, 'No answer'),
        form(
          'attempt-form',
          'Record no answer',
          [field('textarea', 'attempt-notes', 'Notes about the call (optional)', 'For example, went to voicemail. The request goes back in the queue.', { rows: '2' })],
          (f) => act(id, 'attempts', { notes: f.querySelector('#attempt-notes').value.trim() || undefined }),
          'nhsuk-button--secondary',
        ),
        h('h3', {}, 'Cancel the request'),
        form(
          'cancel-form',
          'Cancel request',
          [field('textarea', 'cancel-reason', 'Why it is no longer needed', 'For example, the patient has gone to A&E.', { rows: '2' })],
          (f) => {
            const reason = f.querySelector('#cancel-reason').value.trim();
            if (!reason) {
              f.querySelector('#cancel-reason-group').classList.add('nhsuk-form-group--error');
              const error = f.querySelector('#cancel-reason-error');
              error.replaceChildren(h('span', { class: 'nhsuk-u-visually-hidden' }, 'Error: '), 'Enter why the request is no longer needed');
              error.hidden = false;
              f.querySelector('#cancel-reason').setAttribute('aria-describedby', 'cancel-reason-hint cancel-reason-error');
              return f.querySelector('#cancel-reason').focus();
            }
            return act(id, 'cancel', { reason });
          },
          'nhsuk-button--warning',
        ),
        h(
          'div',
          { class: 'console-buttons' },
          button('Renew claim', () => act(id, 'renew')),
          button('Release', () => act(id, 'release')),
        ),
      )
    : null;
  // replaceChildren would write a null as the text "null": leave the absent parts out.
  $('detail').replaceChildren(
    ...[
      h(
        'dl',
        { class: 'nhsuk-summary-list' },
        ...[
          ['Name', c.name],
          ['Phone', h('a', { href: `tel:${c.phone}` }, c.phone)],
          ['Patient', patientWords(c)],
          ['Topic', c.topic],
          ['Urgency', open ? `${urgencyWords(c.within)}: due at ${time(c.dueAt)}` : urgencyWords(c.within)],
          ['Status', c.status === 'claimed' ? `Claimed by ${handlerWords(c.claimedBy)} until ${time(c.leaseUntil)}` : STATUSES[c.status]],
          ['Calls with no answer', String(c.attempts)],
          ...(c.completion ? [['Outcome', `${OUTCOMES[c.completion.outcome]}${c.completion.notes ? `: ${c.completion.notes}` : ''}`]] : []),
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
                ['When they asked', decisionWords(c.sinceRequest.whenAsked)],
                ['Latest', c.sinceRequest.latest ? decisionWords(c.sinceRequest.latest) : 'Not finished answering'],
                ['Urgency kept', `${urgencyWords(c.within)}: the most urgent since the request`],
              ].map(summaryRow),
            ),
            c.sinceRequest.stillAnswering ? h('p', {}, 'The patient is changing answers now.') : null,
          )
        : null,
      h('h3', {}, 'Advice the patient was given'),
      c.advice
        ? h(
            'div',
            { class: 'nhsuk-inset-text', id: 'advice' },
            h('p', { class: 'nhsuk-u-font-weight-bold' }, c.advice.title),
            h('p', {}, c.advice.advice),
            c.advice.safetyNetting ? h('p', {}, c.advice.safetyNetting) : null,
          )
        : h('p', { id: 'advice' }, 'None yet: the patient is changing their answers.'),
      h('h3', {}, 'Their answers'),
      h('dl', { class: 'nhsuk-summary-list', id: 'answers' }, ...c.answers.map((a) => summaryRow([a.question.text, answerText(a)]))),
      actions,
      c.status === 'waiting' ? button('Claim', () => act(id, 'claim'), '') : null,
      h(
        'details',
        { class: 'nhsuk-details' },
        h('summary', { class: 'nhsuk-details__summary' }, h('span', { class: 'nhsuk-details__summary-text' }, 'History of this request')),
        h('div', { class: 'nhsuk-details__text' }, h('ul', { id: 'history' }, ...c.history.filter((e) => e.action !== 'contact_read').map(historyLine))),
      ),
    ].filter(Boolean),
  );
}

/** What a change made elsewhere means, for the live region. */
function changeWords(change) {
  const item = items.find((i) => i.id === change.id);
  const who = item ? `${item.topic}, ${patientWords(item)}` : 'a request';
  const words = {
    added: `New request: ${who}${item ? `, ${urgencyWords(item.within).toLowerCase()}` : ''}.`,
    claimed: `Claimed by someone else: ${who}.`,
    released: `Back in the queue: ${who}.`,
    attempted: `Called with no answer, back in the queue: ${who}.`,
    completed: `Completed: ${who}.`,
    cancelled: `Cancelled: ${who}.`,
    urgency_raised: `More urgent now: ${who}.`,
    escalated: `Escalated, needs clinical review: ${who}.`,
    answers_changed: `Answers changed: ${who}.`,
  };
  return words[change.type];
}

// Server-sent events: any change to the queue refreshes it, so no polling is needed. Read with
// fetch rather than EventSource, which cannot send the credential header.
async function listen() {
  stream?.abort();
  stream = new AbortController();
  const res = await fetch('/v1/callbacks/events', { headers: authHeaders(), signal: stream.signal });
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
      const change = JSON.parse(data);
      await refresh();
      if (ownActions.delete(change.id)) continue;
      const words = changeWords(change);
      if (words) announce(words);
      // The request open in the details: shown again, unless the handler is working in it.
      if (change.id === selected && !$('detail-section').contains(document.activeElement)) await showDetail(selected);
    }
  }
}

async function signIn() {
  const who = await api('GET', '/v1/callbacks/me');
  if (who.status >= 400) {
    me = null;
    $('signed-in').textContent = credential ? 'Not signed in: that key or token was not accepted.' : 'Sign in with your staff API key or sign-in token to see the queue.';
    return;
  }
  me = who;
  sessionStorage.setItem('credential', credential);
  $('signed-in').textContent = `Signed in as ${me.name ?? me.id}`;
  await refresh();
  listen().catch(() => say('Live updates stopped. Reload the page.', 'error'));
}

$('sign-in').addEventListener('submit', (event) => {
  event.preventDefault();
  credential = $('api-key').value.trim();
  signIn();
});
$('filters').addEventListener('change', (event) => (event.target.id === 'show' ? refresh() : renderQueue()));
setInterval(tick, 1000);
signIn();
