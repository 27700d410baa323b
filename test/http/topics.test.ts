import t from 'tap';
import { AGE_BANDS } from '../../src/rulesets/schema.js';
import { questionView } from '../../src/http/schemas.js';
import { applyAnswer, type Patient } from '../../src/triage/answers.js';
import { BUNDLED_RULES, get, post, testApp, type Reply } from '../helpers.js';

/**
 * Everyone finds their way in (issue 26): for people of every age band and both sexes, every
 * topic the API lists for them starts an assessment, and random walks through it end in an
 * outcome without a refused answer. One app for the whole file; the bundled rules.
 */
const app = await testApp(t, { rulesDir: BUNDLED_RULES });

// The edges of each age band, and someone old enough for the rules about older people.
const AGES = [0, 4, 5, 15, 16, 80];
const SEXES = ['female', 'male'] as const;

/** A small seeded generator (mulberry32): the same walks on every run, different for each person and topic. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

interface QuestionView {
  id: string;
  type: string;
  help?: string;
  options?: { value: string; exclusive?: boolean }[];
  min?: number;
  max?: number;
  integer?: boolean;
  unsure?: { label: string };
}

/** A valid answer to a question as the API describes it, chosen at random, "not sure" included. */
function anyAnswer(q: QuestionView, next: () => number): unknown {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  const unsure = q.unsure ? ['unsure'] : [];
  switch (q.type) {
    case 'yes_no':
      // Mostly "no", so walks get past the emergency questions.
      return next() < 0.6 ? false : pick([true, ...unsure]);
    case 'single_choice':
      return pick([...q.options!.map((o) => o.value), ...unsure]);
    case 'multiple_choice': {
      const exclusive = q.options!.filter((o) => o.exclusive).map((o) => o.value);
      const others = q.options!.filter((o) => !o.exclusive).map((o) => o.value);
      if (exclusive.length && next() < 0.6) return [pick(exclusive)];
      const some = others.filter(() => next() < 0.3);
      return some.length ? some : [pick(others)];
    }
    case 'number': {
      const v = q.min! + next() * (q.max! - q.min!);
      return q.integer ? Math.round(v) : Math.round(v * 10) / 10;
    }
    case 'duration':
      return pick(['PT2H', 'PT12H', 'P1D', 'P3D', 'P6D', 'P1W', 'P3W', 'P8W']);
  }
  throw new Error(`no answer for question type ${q.type}`);
}

/**
 * Walks an assessment to its end, answering each question asked at random: through the API, or
 * (to keep the file fast as content grows) through the app's own Triage with the same answer
 * checks (applyAnswer) and decisions. Returns the outcome kind, or what went wrong.
 */
async function walkApi(step: Reply, next: () => number): Promise<string> {
  for (let answered = 0; step.body.status === 'in_progress' && answered < 60; answered++) {
    step = await post(app, `/v1/assessments/${step.body.id}/answers`, { questionId: step.body.question.id, value: anyAnswer(step.body.question, next) });
    if (step.status !== 200) return `refused (${step.status}): ${step.body.detail}`;
  }
  return step.body.status === 'complete' ? step.body.outcome.kind : 'no outcome';
}

async function walkInProcess(pathwayId: string, patient: Patient, next: () => number): Promise<string> {
  const version = app.triage.pathway(pathwayId);
  let decision = await app.triage.decide(version, patient, []);
  for (let answered = 0; decision.status === 'needs_answer' && answered < 60; answered++) {
    const q = questionView(decision.question);
    try {
      const answers = applyAnswer(version, decision.answers, q.id, q.id, anyAnswer(q, next));
      decision = await app.triage.decide(version, patient, answers);
    } catch (err) {
      return `refused: ${(err as Error).message}`;
    }
  }
  if (decision.status !== 'complete') return 'no outcome';
  return 'fallback' in decision.evaluation.decidedBy && decision.evaluation.decidedBy.fallback !== 'no_rule_decided' ? `fail-safe: ${decision.evaluation.decidedBy.detail}` : decision.outcome.kind;
}

t.test('every topic listed for a person starts, and random walks reach an outcome with no 4xx', async (t) => {
  let walks = 0;
  let throughApi = 0;
  for (const [a, ageYears] of AGES.entries()) {
    for (const sex of SEXES) {
      const patient: Patient = { ageYears, sex };
      const listed = await get(app, `/v1/pathways?ageYears=${ageYears}&sex=${sex}`);
      t.equal(listed.status, 200);
      const topics = listed.body.topics as { id: string; pathwayId: string; catchAll: boolean }[];
      t.ok(
        topics.some((x) => x.catchAll),
        `aged ${ageYears}, ${sex}: the catch-all is listed`,
      );
      for (const [i, topic] of topics.entries()) {
        const next = random(ageYears * 1000 + (sex === 'male' ? 500 : 0) + i);
        const step = await post(app, '/v1/assessments', { pathwayId: topic.id, patient });
        if (step.status !== 201 || step.body.redirected || step.body.pathwayId !== topic.pathwayId) {
          t.fail(`aged ${ageYears}, ${sex}: ${topic.id} did not start as listed: ${JSON.stringify(step.body)}`);
          continue;
        }
        // Each topic is walked through the API for one age (both sexes), in process for the others.
        const viaApi = (i + a) % AGES.length === 0;
        const end = viaApi ? await walkApi(step, next) : await walkInProcess(topic.pathwayId, patient, next);
        walks += 1;
        throughApi += viaApi ? 1 : 0;
        if (!['escalate', 'callback', 'self_care'].includes(end)) t.fail(`aged ${ageYears}, ${sex}: ${topic.id}: ${end}`);
      }
    }
  }
  t.ok(walks >= AGES.length * SEXES.length * 2, `${walks} walks (${throughApi} through the API), each to an outcome`);
});

t.test('a topic with nothing for this person starts the catch-all and says why', async (t) => {
  // Topics that do not serve under-5s (adults-only topics, as content stands).
  const all = (await get(app, '/v1/pathways')).body.topics as { id: string; title: string; ageBands: string[] }[];
  const notForToddlers = all.filter((x) => !x.ageBands.includes('under5'));
  t.ok(notForToddlers.length > 0, 'some topics are not for under-5s');
  for (const topic of notForToddlers.slice(0, 3)) {
    const res = await post(app, '/v1/assessments', { pathwayId: topic.id, patient: { ageYears: 3, sex: 'female' } });
    t.equal(res.status, 201);
    t.equal(res.body.pathwayId, 'something-else', `${topic.id} for a 3-year-old: the catch-all`);
    t.match(res.body.redirected, { from: topic.id, reason: new RegExp(`^The ${topic.title} pathway is for `) });
    t.equal(res.body.question.id, 'emergency_signs', 'the catch-all asks the emergency questions first');
    const stateless = await post(app, '/v1/triage', { pathwayId: topic.id, patient: { ageYears: 3, sex: 'male' }, answers: {} });
    t.match(stateless, { status: 200, body: { pathwayId: 'something-else', redirected: { from: topic.id }, status: 'needs_answer' } });
  }
  const variant = await post(app, '/v1/assessments', { pathwayId: 'fever', patient: { ageYears: 2, sex: 'male' } });
  t.match(variant.body, { pathwayId: 'fever-child' }, 'the fever topic runs the under-5 variant for a 2-year-old');
  t.notOk(variant.body.redirected, 'a topic that serves the person is no redirect');
  const byVariant = await post(app, '/v1/assessments', { pathwayId: 'fever-adult', patient: { ageYears: 2, sex: 'male' } });
  t.match(byVariant.body, { pathwayId: 'fever-child', redirected: { from: 'fever-adult' } }, "the adult variant asked for a toddler: the topic's under-5 variant, saying so");
});

t.test('invalid input stays 4xx: an impossible age, an unknown topic, half a person', async (t) => {
  const old = await post(app, '/v1/assessments', { pathwayId: 'something-else', patient: { ageYears: 130, sex: 'female' } });
  t.match(old, { status: 422, body: { title: 'Invalid patient', detail: /130 is not possible/ } });
  t.equal((await post(app, '/v1/assessments', { pathwayId: 'no-such-topic', patient: { ageYears: 30, sex: 'female' } })).status, 404);
  t.equal((await get(app, '/v1/pathways?ageYears=30')).status, 400, 'ageYears without sex');
  t.equal((await get(app, '/v1/pathways?ageYears=-1&sex=male')).status, 400);
});

t.test('without a person, every topic with the bands it serves', async (t) => {
  const { body } = await get(app, '/v1/pathways');
  type TopicView = { id: string; ageBands: string[]; variants: { pathwayId: string; ageBands: string[] }[] };
  for (const topic of body.topics as TopicView[]) {
    const bands = new Set(topic.variants.flatMap((v) => v.ageBands));
    t.same(
      topic.ageBands,
      AGE_BANDS.filter((b) => bands.has(b)),
      `${topic.id}: the bands its variants serve`,
    );
  }
  const fever = (body.topics as TopicView[]).find((x) => x.id === 'fever');
  t.ok(fever && fever.variants.length > 1 && fever.ageBands.includes('under5'), 'fever has variants, one for under-5s');
  const last = body.topics[body.topics.length - 1];
  t.match(last, { id: 'something-else', catchAll: true, ageBands: [...AGE_BANDS] }, 'the catch-all comes last');
  t.ok(
    body.topics.every((x: { searchTerms: string[] }) => x.searchTerms.length >= 5),
    'each topic has its search terms',
  );
  t.ok(body.pathways.length > body.topics.length - 1, 'and every pathway');
});
