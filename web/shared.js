// Small helpers shared by the patient page and the call-handler console. No framework.

/** Calls the API; returns the JSON body with the HTTP status added as `status` on errors. */
export async function api(method, url, body, headers = {}) {
  const res = await fetch(url, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json().catch(() => ({}));
  return res.ok ? json : { ...json, status: res.status };
}

/** Builds an element; text children are set as text, never parsed as HTML. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value === undefined || value === null) continue;
    el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** NHS design system error pattern: a summary linking to each field, and the message by it. */
export function showErrors(form, errors) {
  const summary = form.querySelector('.nhsuk-error-summary');
  summary.replaceChildren(
    h('h2', { class: 'nhsuk-error-summary__title', id: 'error-summary-title' }, 'There is a problem'),
    h('div', { class: 'nhsuk-error-summary__body' }, h('ul', { class: 'nhsuk-list nhsuk-error-summary__list' }, ...errors.map((e) => h('li', {}, h('a', { href: `#${e.focus}` }, e.message))))),
  );
  summary.setAttribute('aria-labelledby', 'error-summary-title');
  summary.hidden = false;
  for (const e of errors) {
    form.querySelector(`#${e.field}-group`)?.classList.add('nhsuk-form-group--error');
    const message = form.querySelector(`#${e.field}-error`);
    if (message) {
      message.replaceChildren(h('span', { class: 'nhsuk-u-visually-hidden' }, 'Error: '), e.message);
      message.hidden = false;
    }
    form.querySelector(`#${e.focus}`)?.setAttribute('aria-invalid', 'true');
  }
  summary.focus();
}

/** A labelled input or textarea with its hint and error message, as the design system lays them out. */
export function field(control, id, label, hint, attrs = {}) {
  return h(
    'div',
    { class: 'nhsuk-form-group', id: `${id}-group` },
    h('label', { class: 'nhsuk-label', for: id }, label),
    hint ? h('div', { class: 'nhsuk-hint', id: `${id}-hint` }, hint) : null,
    h('span', { class: 'nhsuk-error-message', id: `${id}-error`, hidden: true }),
    h(control, { class: control === 'textarea' ? 'nhsuk-textarea' : 'nhsuk-input', id, name: id, ...(hint ? { 'aria-describedby': `${id}-hint` } : {}), ...attrs }),
  );
}

export function clearErrors(form) {
  form.querySelector('.nhsuk-error-summary').hidden = true;
  form.querySelectorAll('.nhsuk-form-group--error').forEach((g) => g.classList.remove('nhsuk-form-group--error'));
  form.querySelectorAll('.nhsuk-error-message').forEach((m) => (m.hidden = true));
  form.querySelectorAll('[aria-invalid]').forEach((i) => i.removeAttribute('aria-invalid'));
}

// Weeks and days are in the date part of a duration, hours and minutes in the time part.
const DURATION_PARTS = [
  ['date', 'W', 'week'],
  ['date', 'D', 'day'],
  ['time', 'H', 'hour'],
  ['time', 'M', 'minute'],
];

/** An ISO 8601 duration in words: PT1H is "1 hour", P1DT6H "1 day 6 hours", P2W "2 weeks". */
export function durationWords(iso) {
  const [date = '', time = ''] = String(iso).replace(/^P/, '').split('T');
  const parts = { date, time };
  const words = DURATION_PARTS.flatMap(([part, unit, word]) => {
    const n = Number(new RegExp(`(\\d+)${unit}`).exec(parts[part])?.[1] ?? 0);
    return n ? [`${n} ${word}${n === 1 ? '' : 's'}`] : [];
  });
  return words.join(' ') || String(iso);
}
