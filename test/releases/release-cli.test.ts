// @tag postgres: runs again on PostgreSQL (scripts/postgres-tests.mjs)
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { BASIC_RULES, bundledRules, freshDatabaseUrl, post, testApp } from '../helpers.js';
import { adult, AUTHOR, AUTHOR_KEY, cliOn, rulesWith, SELF_CARE_ANSWERS } from './support.js';

t.test('triage-rules release: checks everything, refuses with reasons, records what passes', async (t) => {
  const db = await freshDatabaseUrl(t);
  const run = cliOn(db);
  // Chest pain and what every rule set holds: the gate on all the bundled rules is npm test's own.
  const rules = bundledRules(t);

  const good = await run(['release', rules, '--summary', 'first release', '--hazards', 'H-01,H-04', '--format', 'json'], AUTHOR_KEY);
  t.equal(good.code, 0, good.stderr);
  const recorded = JSON.parse(good.stdout).release;
  t.match(recorded, { author: AUTHOR.id, approver: null, hazards: ['H-01', 'H-04'] });
  t.match(recorded.pathways, [{ id: 'chest-pain' }, { id: 'something-else' }]);

  t.equal((await run(['release', rules, '--summary', 's', '--hazards', 'H-99'], AUTHOR_KEY)).code, 2, 'an unknown hazard is a usage error');
  const typed = await run(['release', rules, '--author', 'A', '--approver', 'B', '--summary', 's'], AUTHOR_KEY);
  t.equal(typed.code, 2, 'a typed approver is no longer a sign-off');
  t.match(typed.stderr, /--author and --approver are no longer accepted: .* a clinical safety officer signs it off with theirs \(release sign-off <id>\)/);

  const failing = bundledRules(t);
  const scenarios = path.join(failing, 'chest-pain.scenarios.yaml');
  writeFileSync(scenarios, readFileSync(scenarios, 'utf8').replace('ruleId: cp-crushing-pain-now }', 'ruleId: cp-pain-spreading }'));
  const refused = await run(['release', failing, '--summary', 's'], AUTHOR_KEY);
  t.equal(refused.code, 1);
  t.match(refused.stdout, /release refused:\n {2}scenario fails: chest-pain: crushing pain now is a possible heart attack/);

  // Past decisions that the candidate would move to self-care must be acknowledged.
  const app = await testApp(t, { rulesDir: BASIC_RULES, env: { DATABASE_URL: db } });
  t.match((await post(app, '/v1/triage', { pathwayId: 'sample', patient: adult, answers: { ...SELF_CARE_ANSWERS, days: 4 } })).body.outcome, { kind: 'callback' });
  await app.close();
  const risky = rulesWith(t, 5);
  const unacknowledged = await run(['release', risky, '--summary', 'wider self-care'], AUTHOR_KEY);
  t.equal(unacknowledged.code, 1);
  t.match(unacknowledged.stdout, /impact: 1 past decisions would move from escalate or callback to self-care/);
  const acknowledged = await run(['release', risky, '--summary', 'wider self-care', '--acknowledge-impact', '--hazards', 'H-05'], AUTHOR_KEY);
  t.equal(acknowledged.code, 0, acknowledged.stdout);
});
