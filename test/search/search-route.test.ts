import t from 'tap';
import { topicsFor } from '../../src/rulesets/topics.js';
import { BUNDLED_RULES, get, logCapture, testApp } from '../helpers.js';

const search = (params: Record<string, string>) => `/v1/pathways/search?${new URLSearchParams(params)}`;

t.test('GET /v1/pathways/search: ranked topics, typos forgiven; the catch-all when nothing matches', async (t) => {
  const app = await testApp(t, { rulesDir: BUNDLED_RULES });
  const found = await get(app, search({ q: 'stomache ache' }));
  t.equal(found.status, 200);
  t.match(found.body, { matched: true, topics: [{ id: 'abdominal-pain', title: String, description: String }] });
  t.equal((await get(app, search({ q: 'cant catch my breath' }))).body.topics[0].id, 'shortness-of-breath');

  const none = await get(app, search({ q: 'zxqv wxyz' }));
  t.equal(none.status, 200);
  t.same(
    none.body.topics.map((x: { id: string }) => x.id),
    ['something-else'],
    'no match offers the catch-all alone',
  );
  t.equal(none.body.matched, false);
});

t.test('with age and sex: only topics that serve this person', async (t) => {
  const app = await testApp(t, { rulesDir: BUNDLED_RULES });
  for (const person of [
    { ageYears: '3', sex: 'male' as const },
    { ageYears: '40', sex: 'female' as const },
    { ageYears: '10', sex: 'male' as const },
  ]) {
    const served = new Set(topicsFor(app.triage.pathways(), { ageYears: Number(person.ageYears), sex: person.sex }).map((p) => p.topic.id));
    for (const q of ['high temperature', 'tummy ache', 'cough', 'rash', 'pain']) {
      const res = await get(app, search({ q, ...person }));
      t.equal(res.status, 200);
      const ids = (res.body.topics as { id: string }[]).map((x) => x.id);
      t.ok(ids.length > 0 && ids.every((id) => served.has(id)), `"${q}" for ${person.ageYears} ${person.sex}: ${ids.join(', ')}`);
    }
  }
  const adultOnly = await get(app, search({ q: 'chest pain' }));
  t.equal(adultOnly.body.topics[0].id, 'chest-pain');
  const child = await get(app, search({ q: 'chest pain', ageYears: '2', sex: 'female' }));
  t.notOk(
    child.body.topics.some((x: { id: string }) => x.id === 'chest-pain'),
    'a topic that does not serve a 2-year-old is not offered',
  );
});

t.test('bad input is a 400 problem, never a 500', async (t) => {
  const app = await testApp(t, { rulesDir: BUNDLED_RULES });
  for (const [params, problem] of [
    [{}, /q/],
    [{ q: '   ' }, /type a symptom/],
    [{ q: 'x'.repeat(201) }, /q/],
    [{ q: 'cough', ageYears: '40' }, /give ageYears and sex together/],
    [{ q: 'cough', ageYears: 'forty', sex: 'male' }, /ageYears/],
    [{ q: 'cough', ageYears: '131', sex: 'male' }, /ageYears/],
    [{ q: 'cough', ageYears: '40', sex: 'other' }, /sex/],
  ] as [Record<string, string>, RegExp][]) {
    const res = await get(app, search(params));
    t.equal(res.status, 400, JSON.stringify(params));
    t.match(res.headers['content-type'], /application\/problem\+json/);
    t.match(JSON.stringify(res.body), problem);
  }
});

t.test('what people type never reaches the logs; the result count does', async (t) => {
  const log = logCapture();
  const app = await testApp(t, { logStream: log.stream, env: { LOG_LEVEL: 'trace' } });
  await get(app, search({ q: 'Zebedee Quartermaine 07700 900123 tummy ache' }));
  await get(app, search({ q: 'Zebedee Quartermaine zxqv', ageYears: '40', sex: 'male' }));
  await get(app, search({ q: 'Zebedee Quartermaine', ageYears: 'Zebedee' }));
  await get(app, search({ q: `Zebedee ${'x'.repeat(300)}` }));
  await get(app, `/v1/pathways/serch?q=Zebedee`);
  const lines = log
    .text()
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { msg: string; results?: number; req?: { url: string } });
  t.equal(lines.filter((l) => l.msg === 'request completed').length, 5, 'every request was logged: there were logs to look through');
  for (const secret of ['Zebedee', 'Quartermaine', '900123', 'tummy', 'ache']) {
    t.equal(log.text().indexOf(secret), -1, `${secret} is not in the logs`);
  }
  const counts = lines.filter((l) => l.msg === 'symptom search').map((l) => l.results);
  t.equal(counts.length, 2, 'one line per search answered');
  t.ok(counts[0]! > 0 && counts[1] === 0, `with the number of results (${counts.join(', ')})`);
  t.ok(
    lines.some((l) => l.req?.url === '/v1/pathways/search'),
    'the request line keeps the path',
  );
});

t.test('search is a public read, rate limited like the others', async (t) => {
  const app = await testApp(t, { env: { RATE_LIMIT_PER_MINUTE: '2' } });
  t.equal((await get(app, search({ q: 'cough' }))).status, 200);
  t.equal((await get(app, search({ q: 'cough' }))).status, 200);
  const limited = await get(app, search({ q: 'cough' }));
  t.equal(limited.status, 429);
  t.match(limited.body, { title: 'Too many requests' });
});
