// The patient page: a reference frontend of the API, following the NHS design system's patterns.
// One question per page, each a browser history entry (Back and Forward move between questions),
// and a reload resumes where the person was: the assessment token is kept in sessionStorage only.
import { api as call, durationWords, field, h, showErrors, clearErrors } from './shared.js';

const SERVICE = 'Get help with a health problem';
const view = document.getElementById('view');
// The assessment this tab is answering: its id and token, the topic picked, and the topic that
// had nothing for this person when the catch-all runs instead. Never in localStorage or the URL:
// the token is what lets anyone read the answers.
const SAVED = 'assessment';
let saved = JSON.parse(sessionStorage.getItem(SAVED) ?? 'null');
let topics = [];
const pathways = new Map();
const api = (method, url, body) => call(method, url, body, saved ? { 'x-assessment-token': saved.token } : {});

function save(value) {
  saved = value;
  if (value) sessionStorage.setItem(SAVED, JSON.stringify(value));
  else sessionStorage.removeItem(SAVED);
}

/** Shows a step: its children, the page title naming it, and focus on its heading. */
function render(title, ...children) {
  view.replaceChildren(...children.filter(Boolean));
  document.title = `${title} - ${SERVICE}`;
  const heading = view.querySelector('h1');
  if (heading) {
    heading.setAttribute('tabindex', '-1');
    heading.focus();
  }
}

/** Goes to a step as a new browser history entry (or in place of this one), then shows it. */
function go(entry, replace = false) {
  const depth = replace ? (history.state?.depth ?? 0) : (history.state?.depth ?? 0) + 1;
  history[replace ? 'replaceState' : 'pushState']({ ...entry, depth }, '');
  return display(history.state);
}

window.addEventListener('popstate', (event) => display(event.state ?? { step: 'search', depth: 0 }).catch(failed));

/** The NHS back link: the browser's own Back, so both go the same way. */
function backLink() {
  if (!history.state?.depth) return null;
  const link = h('a', { class: 'nhsuk-back-link', href: '#' }, 'Back');
  link.addEventListener('click', (event) => {
    event.preventDefault();
    history.back();
  });
  return link;
}

function errorSummary() {
  return h('div', { class: 'nhsuk-error-summary', hidden: true, tabindex: '-1', role: 'alert' });
}

/** The error pattern with the page title saying so, as the design system asks. */
function fail(form, errors) {
  if (!document.title.startsWith('Error: ')) document.title = `Error: ${document.title}`;
  showErrors(form, errors);
}

function clear(form) {
  document.title = document.title.replace(/^Error: /, '');
  clearErrors(form);
}

const SERVICE_PROBLEM = 'Sorry, there is a problem with the service. Try again, or call 111 if you need help now.';

async function display(entry) {
  if (entry.step === 'search') return searchPage(entry.q ?? '');
  if (entry.step === 'about') return aboutYou(entry.topic);
  return resume(entry);
}

/**
 * A question or the outcome, as the API says the assessment stands: an earlier question shows
 * its answer; a question that no longer applies (answers changed since) or an outcome not yet
 * reached gives way to where the assessment is now.
 */
async function resume(entry) {
  if (!saved) return go({ step: 'search' }, true);
  const a = await api('GET', `/v1/assessments/${saved.id}`);
  if (a.status >= 400) {
    save(null);
    return expired();
  }
  const answered = a.answers.findIndex((x) => x.questionId === entry.id);
  if (entry.step === 'question' && answered >= 0) {
    const q = (await pathway(a.pathwayId)).questions.find((x) => x.id === entry.id);
    return question(q, answered + 1, a.answers[answered].value, a.callback);
  }
  if (a.status === 'complete') {
    if (entry.step !== 'outcome') history.replaceState({ step: 'outcome', depth: entry.depth }, '');
    return outcome(a.outcome, a.callback);
  }
  if (entry.step !== 'question' || entry.id !== a.question.id) history.replaceState({ step: 'question', id: a.question.id, depth: entry.depth }, '');
  return question(a.question, a.answers.length + 1, undefined, a.callback);
}

async function pathway(id) {
  if (!pathways.has(id)) pathways.set(id, await api('GET', `/v1/pathways/${encodeURIComponent(id)}`));
  return pathways.get(id);
}

function expired() {
  render(
    'Your answers are no longer available',
    h('h1', {}, 'Your answers are no longer available'),
    h('p', {}, 'We could not find your answers. This can happen if you were away for a long time.'),
    h('p', {}, h('a', { href: '/' }, 'Start again')),
  );
}

// The start: what the problem is (search, or the A to Z list), then who has it, then the questions.
function searchPage(q) {
  const form = h(
    'form',
    { novalidate: true, role: 'search', id: 'search-form' },
    errorSummary(),
    h(
      'div',
      { class: 'nhsuk-form-group', id: 'symptom-group' },
      h('h1', { class: 'nhsuk-label-wrapper' }, h('label', { class: 'nhsuk-label nhsuk-label--l', for: 'symptom' }, 'What is your main symptom?')),
      h('div', { class: 'nhsuk-hint', id: 'symptom-hint' }, 'For example, tummy ache, cough or a rash. Do not type your name or other personal details.'),
      h('span', { class: 'nhsuk-error-message', id: 'symptom-error', hidden: true }),
      h('input', { class: 'nhsuk-input', id: 'symptom', name: 'q', type: 'search', maxlength: 200, autocomplete: 'off', spellcheck: 'false', 'aria-describedby': 'symptom-hint', value: q }),
    ),
    h('button', { class: 'nhsuk-button', type: 'submit' }, 'Search'),
  );
  const results = h('div', { id: 'results' });
  const pick = (topic) => {
    // The words typed stay on this entry, so Back finds them (and the results) again.
    history.replaceState({ ...history.state, q: form.querySelector('#symptom').value }, '');
    go({ step: 'about', topic: { id: topic.id, title: topic.title } });
  };
  const find = async (words) => {
    const res = await api('GET', `/v1/pathways/search?${new URLSearchParams({ q: words })}`);
    if (res.status >= 400) return fail(form, [{ field: 'symptom', focus: 'symptom', message: 'Sorry, the search is not working. Choose from the list A to Z instead.' }]);
    showResults(results, res, pick);
  };
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clear(form);
    const words = form.querySelector('#symptom').value.trim();
    if (!words) return fail(form, [{ field: 'symptom', focus: 'symptom', message: 'Type your main symptom, or choose from the list' }]);
    await find(words);
    results.querySelector('h2').focus();
  });
  render('What is your main symptom?', form, results, h('div', { id: 'a-to-z' }, h('h2', {}, 'Or choose from the list A to Z'), topicList(topics, pick)));
  if (q.trim()) return find(q.trim());
}

function showResults(region, result, pick) {
  region.replaceChildren(
    ...(result.matched
      ? [h('h2', { tabindex: '-1' }, 'Choose the one that fits best'), topicList(result.topics, pick)]
      : [h('h2', { tabindex: '-1' }, 'No matches found'), h('p', {}, 'Try different words, choose from the list A to Z below, or choose:'), topicList(result.topics, pick)]),
  );
}

function topicList(list, pick) {
  return h(
    'ul',
    { class: 'nhsuk-list nhsuk-list--border' },
    ...list.map((topic) => {
      const link = h('a', { href: '#', 'data-topic': topic.id }, topic.title);
      link.addEventListener('click', (event) => {
        event.preventDefault();
        pick(topic);
      });
      return h('li', {}, link, topic.description ? h('p', { class: 'nhsuk-body-s nhsuk-u-margin-bottom-0' }, topic.description) : null);
    }),
  );
}

function radios(name, options, checked) {
  return h(
    'div',
    { class: 'nhsuk-radios' },
    ...options.map((o, i) =>
      h(
        'div',
        { class: 'nhsuk-radios__item' },
        h('input', { class: 'nhsuk-radios__input', id: `${name}-${i}`, name, type: 'radio', value: o.value, checked: checked === o.value }),
        h('label', { class: 'nhsuk-label nhsuk-radios__label', for: `${name}-${i}` }, o.label),
      ),
    ),
  );
}

/** Checkboxes where an exclusive option ("None of these") clears the others, and they clear it. */
function checkboxes(name, options, checked = []) {
  const group = h(
    'div',
    { class: 'nhsuk-checkboxes' },
    ...options.flatMap((o, i) => [
      o.exclusive && i > 0 ? h('div', { class: 'nhsuk-checkboxes__divider' }, 'or') : null,
      h(
        'div',
        { class: 'nhsuk-checkboxes__item' },
        h('input', { class: 'nhsuk-checkboxes__input', id: `${name}-${i}`, name, type: 'checkbox', value: o.value, checked: checked.includes(o.value), 'data-exclusive': o.exclusive === true }),
        h('label', { class: 'nhsuk-label nhsuk-checkboxes__label', for: `${name}-${i}` }, o.label),
      ),
    ]),
  );
  group.addEventListener('change', (event) => {
    const box = event.target;
    if (!box.checked) return;
    for (const other of group.querySelectorAll('input')) {
      if (other !== box && (box.hasAttribute('data-exclusive') || other.hasAttribute('data-exclusive'))) other.checked = false;
    }
  });
  return group;
}

/** A question in a fieldset, its legend the page's heading (h1), as the design system does it. */
function fieldset(id, legend, hint, control, { caption, large = true } = {}) {
  const heading = large
    ? h('h1', { class: 'nhsuk-fieldset__heading' }, caption ? h('span', { class: 'nhsuk-caption-l' }, caption, h('span', { class: 'nhsuk-u-visually-hidden' }, ' - ')) : null, legend)
    : legend;
  return h(
    'div',
    { class: 'nhsuk-form-group', id: `${id}-group` },
    h(
      'fieldset',
      { class: 'nhsuk-fieldset', ...(hint ? { 'aria-describedby': `${id}-hint` } : {}) },
      h('legend', { class: `nhsuk-fieldset__legend ${large ? 'nhsuk-fieldset__legend--l' : 'nhsuk-fieldset__legend--s'}` }, heading),
      hint ? h('div', { class: 'nhsuk-hint', id: `${id}-hint` }, hint) : null,
      h('span', { class: 'nhsuk-error-message', id: `${id}-error`, hidden: true }),
      control,
    ),
  );
}

function aboutYou(topic) {
  const form = h(
    'form',
    { novalidate: true },
    errorSummary(),
    h('h1', {}, h('span', { class: 'nhsuk-caption-l' }, topic.title, h('span', { class: 'nhsuk-u-visually-hidden' }, ' - ')), 'About you'),
    h(
      'div',
      { class: 'nhsuk-form-group', id: 'age-group' },
      h('label', { class: 'nhsuk-label', for: 'age' }, 'How old are you?'),
      h('div', { class: 'nhsuk-hint', id: 'age-hint' }, 'In years. For a baby under 1, enter 0.'),
      h('span', { class: 'nhsuk-error-message', id: 'age-error', hidden: true }),
      h('input', { class: 'nhsuk-input nhsuk-input--width-4', id: 'age', name: 'age', type: 'text', inputmode: 'numeric', 'aria-describedby': 'age-hint' }),
    ),
    fieldset(
      'sex',
      'What was your sex at birth?',
      null,
      radios('sex', [
        { value: 'female', label: 'Female' },
        { value: 'male', label: 'Male' },
      ]),
      { large: false },
    ),
    h('button', { class: 'nhsuk-button', type: 'submit' }, 'Continue'),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clear(form);
    const age = form.querySelector('#age').value.trim();
    const sex = form.querySelector('input[name=sex]:checked')?.value;
    const errors = [];
    if (!/^\d{1,3}$/.test(age) || Number(age) > 120) errors.push({ field: 'age', focus: 'age', message: 'Enter your age in years, a whole number from 0 to 120' });
    if (!sex) errors.push({ field: 'sex', focus: 'sex-0', message: 'Choose female or male' });
    if (errors.length) return fail(form, errors);
    const res = await api('POST', '/v1/assessments', { pathwayId: topic.id, patient: { ageYears: Number(age), sex } });
    if (res.status >= 400) return fail(form, [{ field: 'age', focus: 'age', message: res.status === 422 ? 'Enter your age in years, a whole number from 0 to 120' : SERVICE_PROBLEM }]);
    // Nothing in this topic for this person: the catch-all runs, and the first question says so.
    save({ id: res.id, token: res.token, redirectedFrom: res.redirected ? topic.title : null });
    pathways.delete(res.pathwayId);
    return go(res.status === 'complete' ? { step: 'outcome' } : { step: 'question', id: res.question.id });
  });
  render('About you', backLink(), form);
}

function question(q, number, previous, callback) {
  let control;
  // "I'm not sure", where the question offers it: the API takes the answer "unsure".
  const unsure = q.unsure ? [{ value: 'unsure', label: q.unsure.label }] : [];
  if (q.type === 'yes_no') {
    control = radios('answer', [{ value: 'true', label: 'Yes' }, { value: 'false', label: 'No' }, ...unsure], previous === undefined ? undefined : String(previous));
  } else if (q.type === 'single_choice') {
    control = radios('answer', [...q.options, ...unsure], previous);
  } else if (q.type === 'multiple_choice') {
    control = checkboxes('answer', q.options, previous);
  } else if (q.type === 'duration') {
    control = durationInput(previous);
  } else {
    control = h(
      'div',
      {},
      h('label', { class: 'nhsuk-label', for: 'answer-0' }, `Number (${q.unit})`),
      h('input', { class: 'nhsuk-input nhsuk-input--width-4', id: 'answer-0', name: 'answer', type: 'text', inputmode: q.integer ? 'numeric' : 'decimal', value: previous ?? '' }),
    );
  }
  const form = h(
    'form',
    { novalidate: true },
    errorSummary(),
    // Said before an answer can change: the request keeps the answers it was asked on in view.
    callback
      ? h('div', { class: 'nhsuk-inset-text', id: 'change-warning' }, h('p', {}, 'You have asked for a call back. If you change an answer, the nurse or doctor who calls you will see the change.'))
      : null,
    saved.redirectedFrom && number === 1
      ? h(
          'div',
          { class: 'nhsuk-inset-text', id: 'redirected' },
          h('p', {}, `We do not have questions about "${saved.redirectedFrom}" for you. These general questions work for any health problem, and check for anything urgent first.`),
        )
      : null,
    // Questions can start with the same words ("Do you have any of these ..."; lint warns when two
    // in one pathway are worded the same): the caption numbers each step, so no two steps have the
    // same heading or page title.
    fieldset('answer', q.text, q.help, control, { caption: `Question ${number}` }),
    h('button', { class: 'nhsuk-button', type: 'submit' }, 'Continue'),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clear(form);
    const value = readValue(form, q);
    if (value === undefined) return fail(form, [{ field: 'answer', focus: 'answer-0', message: missingAnswer(q) }]);
    const res = await api('POST', `/v1/assessments/${saved.id}/answers`, { questionId: q.id, value });
    // Answered elsewhere meanwhile (another tab): show where the assessment is now.
    if (res.status === 409) return resume({ step: 'question', id: q.id, depth: history.state.depth });
    if (res.status === 401 || res.status === 404) {
      save(null);
      return expired();
    }
    if (res.status >= 400) return fail(form, [{ field: 'answer', focus: 'answer-0', message: res.status === 422 ? missingAnswer(q) : SERVICE_PROBLEM }]);
    return go(res.status === 'complete' ? { step: 'outcome' } : { step: 'question', id: res.question.id });
  });
  render(`Question ${number}: ${q.text}`, backLink(), form);
}

/** What to do, in plain words, when an answer is missing or out of bounds. */
function missingAnswer(q) {
  if (q.type === 'number') return `Enter a number from ${q.min} to ${q.max}`;
  if (q.type === 'duration') return `Enter how long, as a whole number of hours, days or weeks${q.maxDuration ? `, up to ${durationWords(q.maxDuration)}` : ''}`;
  if (q.type === 'multiple_choice') return 'Choose any that apply, or "None of these"';
  return q.type === 'yes_no' ? 'Choose yes or no' : 'Choose one answer';
}

// A duration is typed as a number and a unit, and sent as ISO 8601: PT6H, P3D, P2W.
const DURATION_UNITS = [
  { value: 'H', label: 'hours' },
  { value: 'D', label: 'days' },
  { value: 'W', label: 'weeks' },
];

function durationInput(previous) {
  const [, amount = '', unit = 'D'] = /^PT?(\d+)([HDW])$/.exec(previous ?? '') ?? [];
  return h(
    'div',
    {},
    h('label', { class: 'nhsuk-label', for: 'answer-0' }, 'How many'),
    h('input', { class: 'nhsuk-input nhsuk-input--width-4', id: 'answer-0', name: 'answer', type: 'text', inputmode: 'numeric', value: amount }),
    h('label', { class: 'nhsuk-label', for: 'answer-unit' }, 'Hours, days or weeks'),
    h('select', { class: 'nhsuk-select', id: 'answer-unit', name: 'answer-unit' }, ...DURATION_UNITS.map((u) => h('option', { value: u.value, selected: u.value === unit }, u.label))),
  );
}

function readValue(form, q) {
  if (q.type === 'duration') {
    const amount = form.querySelector('#answer-0').value.trim();
    const unit = form.querySelector('#answer-unit').value;
    if (!/^\d{1,4}$/.test(amount)) return undefined;
    return unit === 'H' ? `PT${Number(amount)}H` : `P${Number(amount)}${unit}`;
  }
  if (q.type === 'multiple_choice') {
    const values = [...form.querySelectorAll('input[name=answer]:checked')].map((i) => i.value);
    return values.length ? values : undefined;
  }
  if (q.type === 'number') {
    const raw = form.querySelector('#answer-0').value.trim();
    return raw === '' || !Number.isFinite(Number(raw)) ? undefined : Number(raw);
  }
  const checked = form.querySelector('input[name=answer]:checked')?.value;
  if (checked === undefined) return undefined;
  if (checked === 'unsure') return 'unsure';
  return q.type === 'yes_no' ? checked === 'true' : checked;
}

const CARE = { escalate: 'nhsuk-card--care--emergency', callback: 'nhsuk-card--care--urgent', self_care: 'nhsuk-card--care--non-urgent' };

function outcome(o, asked) {
  const card = h(
    'div',
    { class: `nhsuk-card nhsuk-card--care ${CARE[o.kind]}`, id: 'outcome', 'data-kind': o.kind },
    h('div', { class: 'nhsuk-card--care__heading-container' }, h('h1', { class: 'nhsuk-card--care__heading' }, o.title)),
    h(
      'div',
      { class: 'nhsuk-card__content' },
      h('p', {}, o.advice),
      o.safetyNetting ? h('div', { class: 'nhsuk-warning-callout', id: 'safety-netting' }, h('h2', { class: 'nhsuk-warning-callout__label' }, 'Get help if things change'), h('p', {}, o.safetyNetting)) : null,
    ),
  );
  if (!asked) return render(o.title, backLink(), card, o.kind === 'callback' ? callbackForm() : null);
  // Already asked: an escalation since means not waiting for the call, in the outcome's own words.
  const actNow = asked.actNow
    ? h(
        'div',
        { class: 'nhsuk-warning-callout', id: 'act-now' },
        h('h2', { class: 'nhsuk-warning-callout__label' }, 'Do not wait for our call back'),
        h('p', {}, `Your answers have changed since you asked for a call back. ${asked.actNow.title}.`),
        h('p', {}, asked.actNow.advice),
      )
    : null;
  render(o.title, backLink(), actNow, card, actNow ? null : callbackConfirmed(asked));
}

function callbackConfirmed(callback) {
  const due = new Date(callback.dueAt).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' });
  const who = callback.phone ? `call ${callback.phone}` : 'call you';
  return h(
    'div',
    { class: 'nhsuk-panel', id: 'callback-confirmed' },
    h('h2', { class: 'nhsuk-panel__title', id: 'callback-confirmed-heading', tabindex: '-1' }, 'Call back requested'),
    h(
      'div',
      { class: 'nhsuk-panel__body' },
      h('p', {}, `A nurse or doctor will ${who} by ${due}. Keep your phone with you.`),
      callback.answersChanged ? h('p', {}, 'They will see the answers you changed.') : null,
    ),
  );
}

// The page's own words for what the API refuses: never its wording, or a field's code name.
const CONTACT_PROBLEMS = {
  name: 'Enter your name, up to 100 characters',
  phone: 'Enter a UK mobile or landline number, like 07700 900123 or 020 7946 0000',
  consent: 'Tick the box to agree to a call back',
};

function callbackForm() {
  const form = h(
    'form',
    { novalidate: true, id: 'callback-form' },
    h('h2', {}, 'Ask for your call back'),
    errorSummary(),
    field('input', 'name', 'Your name', null, { type: 'text', autocomplete: 'name' }),
    field('input', 'phone', 'UK phone number', 'For example, 07700 900123', { class: 'nhsuk-input nhsuk-input--width-20', type: 'tel', autocomplete: 'tel' }),
    h(
      'div',
      { class: 'nhsuk-form-group', id: 'consent-group' },
      h('span', { class: 'nhsuk-error-message', id: 'consent-error', hidden: true }),
      h(
        'div',
        { class: 'nhsuk-checkboxes' },
        h(
          'div',
          { class: 'nhsuk-checkboxes__item' },
          h('input', { class: 'nhsuk-checkboxes__input', id: 'consent', name: 'consent', type: 'checkbox' }),
          h('label', { class: 'nhsuk-label nhsuk-checkboxes__label', for: 'consent' }, 'I agree to a nurse or doctor calling me on this number about my answers'),
        ),
      ),
    ),
    h('button', { class: 'nhsuk-button', type: 'submit' }, 'Ask for a call back'),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clear(form);
    const name = form.querySelector('#name').value.trim();
    const phone = form.querySelector('#phone').value.trim();
    const consent = form.querySelector('#consent').checked;
    const errors = [];
    if (!name) errors.push({ field: 'name', focus: 'name', message: 'Enter your name' });
    if (!phone) errors.push({ field: 'phone', focus: 'phone', message: 'Enter a UK phone number' });
    if (!consent) errors.push({ field: 'consent', focus: 'consent', message: CONTACT_PROBLEMS.consent });
    if (errors.length) return fail(form, errors);
    const res = await api('POST', `/v1/assessments/${saved.id}/callback`, { name, phone, consent });
    if (res.status === 409) return resume({ step: 'outcome', depth: history.state.depth });
    if (res.status >= 400) {
      const fields = [...new Set((res.errors ?? []).map((e) => e.path[e.path.length - 1]).filter((f) => f in CONTACT_PROBLEMS))];
      return fail(form, fields.length ? fields.map((f) => ({ field: f, focus: f, message: CONTACT_PROBLEMS[f] })) : [{ field: 'phone', focus: 'phone', message: SERVICE_PROBLEM }]);
    }
    form.replaceWith(callbackConfirmed(res));
    document.getElementById('callback-confirmed-heading').focus();
  });
  return form;
}

function failed() {
  render('Sorry, there is a problem with the service', h('h1', {}, 'Sorry, there is a problem with the service'), h('p', {}, 'Call 111 for help, or 999 in an emergency.'));
}

async function start() {
  ({ topics } = await api('GET', '/v1/pathways'));
  // A reload keeps this tab's history entry: show that step again (or, for an assessment under
  // way, where the API says it is). A new tab starts at the search.
  const entry = history.state ?? (saved ? { step: 'question', depth: 0 } : { step: 'search', depth: 0 });
  if (!history.state) history.replaceState(entry, '');
  await display(entry);
}

start().catch(failed);
