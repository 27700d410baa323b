// @tag postgres: runs again on PostgreSQL (scripts/postgres-tests.mjs)
import t from 'tap';
import { loadScenarioFiles, scenarioAnswers } from '../../src/rulesets/scenarios.js';
import { BUNDLED_RULES, get, ON_POSTGRES, post, sampledScenarios, STAFF, testApp } from '../helpers.js';

const app = await testApp(t, { rulesDir: BUNDLED_RULES });
const files = sampledScenarios(await loadScenarioFiles(BUNDLED_RULES));
const KIND = { escalate: 'Escalated', callback: 'Clinician callback', self_care: 'Self-care' } as const;

async function explanationOf(pathwayId: string, patient: object, answers: Record<string, unknown>) {
  const res = await post(app, '/v1/triage', { pathwayId, patient, answers });
  return { outcome: res.body.outcome, explanation: (await get(app, `/v1/traces/${res.body.traceId}/explanation`, STAFF.clinician)).body };
}

t.test('a chest pain escalation reads as a call handler would say it', async (t) => {
  const { explanation } = await explanationOf('chest-pain', { ageYears: 58, sex: 'male' }, { emergency_signs: ['none'], pain_now: true, pain_feel: 'crushing_heavy_tight' });
  t.equal(
    explanation.summary,
    "Escalated: Call 999 now - this could be a heart attack, because rule cp-crushing-pain-now 'Crushing or heavy chest pain now' fired: " +
      "pain_now is 'yes' (rule expects 'yes'); pain_feel is 'crushing_heavy_tight' (rule expects 'crushing_heavy_tight').",
  );
  t.ok(
    explanation.ruledOut.includes("Ruled out rule rf-not-breathing 'Not breathing': emergency_signs is 'none' (rule expects a list including 'not_breathing')."),
    'each global red flag is listed as ruled out, with the answer that ruled it out',
  );
  // The escalation came before coughing_blood was asked: that red flag was not ruled out, so it is not listed.
  t.notOk(explanation.ruledOut.some((line: string) => line.includes('cp-coughing-blood')));
});

t.test('a fallback says it was the conservative fallback', async (t) => {
  const { explanation } = await explanationOf(
    'chest-pain',
    { ageYears: 45, sex: 'male' },
    {
      emergency_signs: ['none'],
      pain_now: true,
      pain_feel: 'aching_tender',
      pain_spreads: ['none'],
      associated: ['none'],
      coughing_blood: false,
      injury: false,
      worse_on_pressing: true,
      started: 'within_12h',
    },
  );
  t.match(explanation.summary, /^Clinician callback: .*, the pathway's conservative fallback, because no rule fired and no question was left to ask\.$/);
});

t.test('a pending question explains why it is asked', async (t) => {
  const { explanation } = await explanationOf(
    'chest-pain',
    { ageYears: 30, sex: 'male' },
    {
      emergency_signs: ['none'],
      pain_now: true,
      pain_feel: 'aching_tender',
      pain_spreads: ['none'],
      associated: ['none'],
      coughing_blood: false,
      injury: false,
    },
  );
  t.equal(
    explanation.summary,
    "No rule has decided yet; we ask about worse_on_pressing because it could still mean you need to be seen within 1 hour: rule cp-recent-pain 'Chest pain in the last 12 hours' is not settled yet. " +
      "It applies because pain_feel is 'aching_tender' (rule expects 'aching_tender').",
  );
});

t.test('an outcome lists the rules ranked above it that were checked first', async (t) => {
  const { explanation } = await explanationOf(
    'fever-adult',
    { ageYears: 70, sex: 'male' },
    {
      emergency_signs: ['none'],
      sepsis_signs: ['none'],
      immunity: ['none'],
      has_thermometer: true,
      temperature: 39.2,
      heat: false,
      moderate_signs: ['behaviour_change'],
    },
  );
  t.match(explanation.summary, /^Clinician callback: .*, because rule fa-sepsis-moderate-risk /);
  t.ok(explanation.settled.includes("Checked first and ruled out: rule fa-low-temperature 'Temperature below 36C': temperature is 39.2 (rule expects less than 36)."));
  t.ok(explanation.settled.includes("Checked first and ruled out: rule fa-pregnancy 'Fever in pregnancy or in the 6 weeks after': sex is 'male' (rule expects 'female')."));
  t.notOk(
    explanation.settled.some((line: string) => line.includes('rf-')),
    'red flags are listed once, as ruled out',
  );
});

// What an explanation says does not depend on the database: scenarios of every pathway (each
// kind of outcome; TEST_THOROUGH=1: every scenario) are explained on SQLite; the PostgreSQL run (TEST_DATABASE=postgres) keeps the tests above, which read the store.
for (const file of ON_POSTGRES ? [] : files) {
  t.test(`${file.pathway}: each kind of outcome is explained by its deciding rule`, async (t) => {
    for (const scenario of file.scenarios) {
      const answers = Object.fromEntries(scenarioAnswers(scenario).map((a) => [a.questionId, a.value]));
      const { outcome, explanation } = await explanationOf(file.pathway, scenario.patient, answers);
      t.ok(explanation.summary.startsWith(`${KIND[scenario.expect.kind]}: ${outcome.title}`), `${scenario.name}: names the outcome`);
      if (scenario.expect.ruleId) {
        t.match(
          explanation.summary,
          new RegExp(`because rule ${scenario.expect.ruleId} '.+'(?: \\(module [a-z0-9-]+\\))? fired: .+ is .+ \\(rule expects .+\\)\\.$`),
          `${scenario.name}: names the rule and the answers`,
        );
      } else {
        t.match(explanation.summary, /conservative fallback/, `${scenario.name}: says fallback`);
      }
    }
  });
}
