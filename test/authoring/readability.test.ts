import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { readingAge, textStats, tooHard } from '../../src/authoring/readability.js';
import { run } from '../../src/cli/triage-rules.js';
import { BASIC_RULES, runCli, tempDir } from '../helpers.js';

const PLAIN = 'Rest at home and drink lots of water. Take paracetamol if it hurts. Call 111 if you feel worse.';
const DENSE =
  'Symptomatic management with appropriate over-the-counter analgesia is recommended, alongside adequate oral rehydration, and contemporaneous reassessment should be undertaken if there is deterioration.';

t.test('reading age: plain words and short sentences read young, dense ones old', async (t) => {
  const plain = readingAge(textStats(PLAIN))!;
  const dense = readingAge(textStats(DENSE))!;
  t.ok(plain <= 9, `plain advice reads at ${plain}`);
  t.ok(dense >= 16, `dense advice reads at ${dense}`);
  t.match(textStats('Do you have a high temperature?\nYes\nNo'), { words: 8, sentences: 3 }, 'a line (an answer label) is a sentence');
  t.equal(readingAge(textStats('Go now.')), 5, 'never below 5, where the formula means nothing');
  t.equal(readingAge(textStats('')), undefined);
  t.notOk(tooHard(textStats('Sudden, unexplained breathlessness?')), 'too short to judge alone');
  t.ok(tooHard(textStats(DENSE)));
});

t.test('lint prints the reading age per file and outcome, and warns where a page reads above 11', async (t) => {
  const dir = tempDir(t);
  cpSync(BASIC_RULES, dir, { recursive: true });
  const file = path.join(dir, 'sample.yaml');
  writeFileSync(file, readFileSync(file, 'utf8').replace('advice: Rest at home.', `advice: "${DENSE}"`));
  const before = await runCli(run, ['lint', BASIC_RULES]);
  const res = await runCli(run, ['lint', dir]);
  t.match(res.stdout, /^reading age \(Flesch-Kincaid grade \+ 5; NHS standard about 11\), per file and per outcome:$/m);
  t.match(res.stdout, /^ {2}\S*sample\.yaml: \d+(\.\d)? \(\d+ words\); outcomes urgent \d+(\.\d)?, callback \d+(\.\d)?, self-care \d+(\.\d)?/m);
  const line =
    readFileSync(file, 'utf8')
      .split('\n')
      .findIndex((l) => l.includes(DENSE.slice(0, 30))) + 1;
  t.match(res.stdout, new RegExp(`sample\\.yaml:${line}:\\d+: warning reading-age: outcome self-care reads at age \\d+(\\.\\d)?, above about 11`));
  t.match(res.stdout, /^1 page above reading age 11 \(advisory\)$/m);
  t.match(before.stdout, /^0 pages above reading age 11 \(advisory\)$/m);
  t.equal(res.stdout.match(/^\d+ findings?$/m)?.[0], before.stdout.match(/^\d+ findings?$/m)?.[0], 'advisory: not counted as a lint finding');
  t.equal(res.code, before.code, 'nor does it change the exit code');
  const json = JSON.parse((await runCli(run, ['lint', dir, '--format', 'json'])).stdout);
  t.match(json.readability, {
    targetAge: 11,
    files: [{ file: /red-flags\.yaml$/ }, { file: /sample\.yaml$/, outcomes: [{ id: 'urgent' }, { id: 'callback' }, { id: 'self-care' }] }],
    findings: [{ code: 'reading-age', line }],
  });
});
