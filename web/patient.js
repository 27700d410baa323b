// The patient page: a reference frontend of the API. One question per page, Back works, the
// outcome shows advice and safety-netting, and a callback outcome offers the contact form.
import { api as call, h, showErrors, clearErrors } from './shared.js';

const view = document.getElementById('view');
// `callback`: the request once asked for, as the API last described it.
// `redirectedFrom`: the topic picked, when it had nothing for this person and the catch-all runs.
const state = { assessmentId: null, token: null, history: [], answers: new Map(), question: null, callback: null, redirectedFrom: null };
// The assessment token (from starting the assessment) is what lets this page read and answer it.
const api = (method, url, body) => call(method, url, body, state.token ? { 'x-assessment-token': state.token } : {});

function render(...children) {
  view.replaceChildren(...children.filter(Boolean));
  const heading = view.querySelector('h1, legend');
  if (heading) {
    heading.setAttribute('tabindex', '-1');
    heading.focus();
  }
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

function checkboxes(name, options, checked = []) {
  return h(
    'div',
    { class: 'nhsuk-checkboxes' },
    ...options.map((o, i) =>
      h(
        'div',
        { class: 'nhsuk-checkboxes__item' },
        h('input', { class: 'nhsuk-checkboxes__input', id: `${name}-${i}`, name, type: 'checkbox', value: o.value, checked: checked.includes(o.value) }),
        h('label', { class: 'nhsuk-label nhsuk-checkboxes__label', for: `${name}-${i}` }, o.label),
      ),
    ),
  );
}

function formGroup(id, legend, hint, control, large = true) {
  return h(
    'div',
    { class: 'nhsuk-form-group', id: `${id}-group` },
    h(
      'fieldset',
      { class: 'nhsuk-fieldset', ...(hint ? { 'aria-describedby': `${id}-hint` } : {}) },
      h('legend', { class: `nhsuk-fieldset__legend ${large ? 'nhsuk-fieldset__legend--l' : 'nhsuk-fieldset__legend--s'}` }, large ? h('h1', { class: 'nhsuk-fieldset__heading' }, legend) : legend),
      hint ? h('div', { class: 'nhsuk-hint', id: `${id}-hint` }, hint) : null,
      h('span', { class: 'nhsuk-error-message', id: `${id}-error`, hidden: true }),
      control,
    ),
  );
}

// The start: what the problem is (search, or the A-Z list), then who has it, then the questions.
async function start() {
  const { topics } = await api('GET', '/v1/pathways');
  searchPage(topics);
}

function searchPage(topics, previous = { q: '', result: null }) {
  const form = h(
    'form',
    { novalidate: true, role: 'search', id: 'search-form' },
    h('div', { class: 'nhsuk-error-summary', hidden: true, tabindex: '-1', role: 'alert' }),
    h(
      'div',
      { class: 'nhsuk-form-group', id: 'symptom-group' },
      h('h1', { class: 'nhsuk-label-wrapper' }, h('label', { class: 'nhsuk-label nhsuk-label--l', for: 'symptom' }, 'What is your main symptom?')),
      h('div', { class: 'nhsuk-hint', id: 'symptom-hint' }, 'For example, tummy ache, cough or a rash. Do not type your name or other personal details.'),
      h('span', { class: 'nhsuk-error-message', id: 'symptom-error', hidden: true }),
      h('input', { class: 'nhsuk-input', id: 'symptom', name: 'q', type: 'search', maxlength: 200, autocomplete: 'off', spellcheck: 'false', 'aria-describedby': 'symptom-hint', value: previous.q }),
    ),
    h('button', { class: 'nhsuk-button', type: 'submit' }, 'Search'),
  );
  const results = h('div', { id: 'results' });
  const pick = (topic) => aboutYou(topic, () => searchPage(topics, { q: form.querySelector('#symptom').value, result: results.result }));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form);
    const q = form.querySelector('#symptom').value.trim();
    if (!q) return showErrors(form, [{ field: 'symptom', focus: 'symptom', message: 'Type your main symptom, or choose from the list' }]);
    const res = await api('GET', `/v1/pathways/search?${new URLSearchParams({ q })}`);
    if (res.status >= 400) return showErrors(form, [{ field: 'symptom', focus: 'symptom', message: res.detail }]);
    showResults(results, res, pick);
    results.querySelector('h2').focus();
  });
  render(form, results, h('div', { id: 'a-to-z' }, h('h2', {}, 'Or choose from the list A to Z'), topicList(topics, pick)));
  if (previous.result) showResults(results, previous.result, pick);
}

function showResults(region, result, pick) {
  region.result = result;
  region.replaceChildren(
    ...(result.matched
      ? [h('h2', { tabindex: '-1' }, 'Choose the one that fits best'), topicList(result.topics, pick)]
      : [h('h2', { tabindex: '-1' }, 'No matches found'), h('p', {}, 'Try different words, choose from the list A to Z below, or choose:'), topicList(result.topics, pick)]),
  );
}

function topicList(topics, pick) {
  return h(
    'ul',
    { class: 'nhsuk-list nhsuk-list--border' },
    ...topics.map((topic) => {
      const link = h('a', { href: '#', 'data-topic': topic.id }, topic.title);
      link.addEventListener('click', (event) => {
        event.preventDefault();
        pick(topic);
      });
      return h('li', {}, link, topic.description ? h('p', { class: 'nhsuk-body-s nhsuk-u-margin-bottom-0' }, topic.description) : null);
    }),
  );
}

function aboutYou(topic, back) {
  const backLink = h('a', { class: 'nhsuk-back-link', href: '#' }, 'Back');
  backLink.addEventListener('click', (event) => {
    event.preventDefault();
    back();
  });
  const form = h(
    'form',
    { novalidate: true },
    h('div', { class: 'nhsuk-error-summary', hidden: true, tabindex: '-1', role: 'alert' }),
    h('span', { class: 'nhsuk-caption-l' }, topic.title),
    h('h1', {}, 'About you'),
    h(
      'div',
      { class: 'nhsuk-form-group', id: 'age-group' },
      h('label', { class: 'nhsuk-label', for: 'age' }, 'How old are you?'),
      h('div', { class: 'nhsuk-hint', id: 'age-hint' }, 'In years. For a baby under 1, enter 0.'),
      h('span', { class: 'nhsuk-error-message', id: 'age-error', hidden: true }),
      h('input', { class: 'nhsuk-input nhsuk-input--width-4', id: 'age', name: 'age', type: 'number', inputmode: 'numeric', 'aria-describedby': 'age-hint' }),
    ),
    formGroup(
      'sex',
      'What was your sex at birth?',
      null,
      radios('sex', [
        { value: 'female', label: 'Female' },
        { value: 'male', label: 'Male' },
      ]),
      false,
    ),
    h('button', { class: 'nhsuk-button', type: 'submit' }, 'Continue'),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form);
    const age = form.querySelector('#age').value;
    const sex = form.querySelector('input[name=sex]:checked')?.value;
    const errors = [];
    if (!/^\d{1,3}$/.test(age)) errors.push({ field: 'age', focus: 'age', message: 'Enter your age in years, like 34' });
    if (!sex) errors.push({ field: 'sex', focus: 'sex-0', message: 'Choose female or male' });
    if (errors.length) return showErrors(form, errors);
    const res = await api('POST', '/v1/assessments', { pathwayId: topic.id, patient: { ageYears: Number(age), sex } });
    if (res.status >= 400) return showErrors(form, [{ field: 'age', focus: 'age', message: res.detail }]);
    state.assessmentId = res.id;
    state.token = res.token;
    // Nothing in this topic for this person: the catch-all runs, and the page says so.
    state.redirectedFrom = res.redirected ? topic : null;
    show(res);
  });
  render(backLink, form);
}

function show(step) {
  if (step.callback) state.callback = step.callback;
  if (step.status === 'complete') return outcome(step.outcome);
  state.question = step.question;
  return question(step.question);
}

function question(q) {
  const previous = state.answers.get(q.id);
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
      h('input', { class: 'nhsuk-input nhsuk-input--width-4', id: 'answer-0', name: 'answer', type: 'number', step: q.integer ? '1' : 'any', min: q.min, max: q.max, value: previous ?? '' }),
    );
  }
  const form = h(
    'form',
    { novalidate: true },
    h('div', { class: 'nhsuk-error-summary', hidden: true, tabindex: '-1', role: 'alert' }),
    // Said before an answer can change: the request keeps the answers it was asked on in view.
    state.callback
      ? h('div', { class: 'nhsuk-inset-text', id: 'change-warning' }, h('p', {}, 'You have asked for a call back. If you change an answer, the nurse or doctor who calls you will see the change.'))
      : null,
    state.redirectedFrom && state.history.length === 0
      ? h(
          'div',
          { class: 'nhsuk-inset-text', id: 'redirected' },
          h('p', {}, `We do not have questions about "${state.redirectedFrom.title}" for you. These general questions work for any health problem, and check for anything urgent first.`),
        )
      : null,
    formGroup('answer', q.text, q.help, control),
    h('button', { class: 'nhsuk-button', type: 'submit' }, 'Continue'),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form);
    const value = readValue(form, q);
    if (value === undefined) return showErrors(form, [{ field: 'answer', focus: 'answer-0', message: missingAnswer(q) }]);
    const res = await api('POST', `/v1/assessments/${state.assessmentId}/answers`, { questionId: q.id, value });
    if (res.status >= 400) return showErrors(form, [{ field: 'answer', focus: 'answer-0', message: res.detail }]);
    if (state.history[state.history.length - 1] !== q.id) state.history.push(q.id);
    state.answers.set(q.id, value);
    show(res);
  });
  render(backLink(q.id), form);
}

function missingAnswer(q) {
  if (q.type === 'number') return `Enter a number from ${q.min} to ${q.max}`;
  if (q.type === 'duration') return 'Enter how long, as a whole number of hours, days or weeks';
  return 'Choose an answer';
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
    h('input', { class: 'nhsuk-input nhsuk-input--width-4', id: 'answer-0', name: 'answer', type: 'number', inputmode: 'numeric', min: 0, step: 1, value: amount }),
    h('label', { class: 'nhsuk-label', for: 'answer-unit' }, 'Hours, days or weeks'),
    h('select', { class: 'nhsuk-select', id: 'answer-unit', name: 'answer-unit' }, ...DURATION_UNITS.map((u) => h('option', { value: u.value, selected: u.value === unit }, u.label))),
  );
}

function readValue(form, q) {
  if (q.type === 'duration') {
    const amount = form.querySelector('#answer-0').value;
    const unit = form.querySelector('#answer-unit').value;
    if (!/^\d{1,4}$/.test(amount)) return undefined;
    return unit === 'H' ? `PT${Number(amount)}H` : `P${Number(amount)}${unit}`;
  }
  if (q.type === 'multiple_choice') {
    const values = [...form.querySelectorAll('input[name=answer]:checked')].map((i) => i.value);
    return values.length ? values : undefined;
  }
  if (q.type === 'number') {
    const raw = form.querySelector('#answer-0').value;
    return raw === '' ? undefined : Number(raw);
  }
  const checked = form.querySelector('input[name=answer]:checked')?.value;
  if (checked === undefined) return undefined;
  if (checked === 'unsure') return 'unsure';
  return q.type === 'yes_no' ? checked === 'true' : checked;
}

// Back shows the previous question with its answer; answering it again changes that answer,
// and the API drops any later answers that no longer apply.
function backLink(currentId) {
  const index = state.history.indexOf(currentId);
  const previousId = index === -1 ? state.history[state.history.length - 1] : state.history[index - 1];
  if (!previousId) return null;
  const link = h('a', { class: 'nhsuk-back-link', href: '#' }, 'Back');
  link.addEventListener('click', async (event) => {
    event.preventDefault();
    const { pathwayId } = await api('GET', `/v1/assessments/${state.assessmentId}`);
    const pathway = await api('GET', `/v1/pathways/${pathwayId}`);
    state.history = state.history.slice(0, state.history.indexOf(previousId) + 1);
    question(pathway.questions.find((x) => x.id === previousId));
  });
  return link;
}

const CARE = { escalate: 'nhsuk-card--care--emergency', callback: 'nhsuk-card--care--urgent', self_care: 'nhsuk-card--care--non-urgent' };

function outcome(o) {
  const asked = state.callback;
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
  if (!asked) return render(backLink(null), card, o.kind === 'callback' ? callbackForm() : null);
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
  render(backLink(null), actNow, card, actNow ? null : callbackConfirmed(asked));
}

function callbackConfirmed(callback) {
  const due = new Date(callback.dueAt).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' });
  const who = callback.phone ? `call ${callback.phone}` : 'call you';
  return h(
    'div',
    { class: 'nhsuk-panel', id: 'callback-confirmed', tabindex: '-1' },
    h('h2', {}, 'Call back requested'),
    h('p', {}, `A nurse or doctor will ${who} by ${due}. Keep your phone with you.`),
    callback.answersChanged ? h('p', {}, 'They will see the answers you changed.') : null,
  );
}

function callbackForm() {
  const form = h(
    'form',
    { novalidate: true, id: 'callback-form' },
    h('h2', {}, 'Ask for your call back'),
    h('div', { class: 'nhsuk-error-summary', hidden: true, tabindex: '-1', role: 'alert' }),
    h(
      'div',
      { class: 'nhsuk-form-group', id: 'name-group' },
      h('label', { class: 'nhsuk-label', for: 'name' }, 'Your name'),
      h('span', { class: 'nhsuk-error-message', id: 'name-error', hidden: true }),
      h('input', { class: 'nhsuk-input', id: 'name', name: 'name', type: 'text', autocomplete: 'name' }),
    ),
    h(
      'div',
      { class: 'nhsuk-form-group', id: 'phone-group' },
      h('label', { class: 'nhsuk-label', for: 'phone' }, 'UK phone number'),
      h('div', { class: 'nhsuk-hint', id: 'phone-hint' }, 'For example, 07700 900123'),
      h('span', { class: 'nhsuk-error-message', id: 'phone-error', hidden: true }),
      h('input', { class: 'nhsuk-input nhsuk-input--width-20', id: 'phone', name: 'phone', type: 'tel', autocomplete: 'tel', 'aria-describedby': 'phone-hint' }),
    ),
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
    clearErrors(form);
    const name = form.querySelector('#name').value.trim();
    const phone = form.querySelector('#phone').value.trim();
    const consent = form.querySelector('#consent').checked;
    const errors = [];
    if (!name) errors.push({ field: 'name', focus: 'name', message: 'Enter your name' });
    if (!phone) errors.push({ field: 'phone', focus: 'phone', message: 'Enter a UK phone number' });
    if (!consent) errors.push({ field: 'consent', focus: 'consent', message: 'Tick the box to agree to a call back' });
    if (errors.length) return showErrors(form, errors);
    const res = await api('POST', `/v1/assessments/${state.assessmentId}/callback`, { name, phone, consent });
    if (res.status >= 400) {
      const fieldErrors = (res.errors ?? []).map((e) => ({ field: e.path[1], focus: e.path[1], message: e.message }));
      return showErrors(form, fieldErrors.length ? fieldErrors : [{ field: 'phone', focus: 'phone', message: res.detail }]);
    }
    state.callback = res;
    form.replaceWith(callbackConfirmed(res));
    document.getElementById('callback-confirmed').focus?.();
  });
  return form;
}

start().catch(() => render(h('p', {}, 'Sorry, something went wrong. Call 111 for help, or 999 in an emergency.')));
