import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Test } from 'tap';
import { run } from '../../src/cli/triage-rules.js';
import { loadRuleCatalog } from '../../src/rulesets/loader.js';
import { ApiKeys, parseApiKeys } from '../../src/security/credentials.js';
import { BASIC_RULES, post, runCli, SECURITY_ENV, STAFF, tempDir, type TestApp } from '../helpers.js';

/** What the release suites share: the principals, rule copies at their own versions, recording. */
export const adult = { ageYears: 30, sex: 'female' };
export const SELF_CARE_ANSWERS = { emergency: false, severe: false, kind: 'dull', days: 2 };

/**
 * Two clinicians: the author (the suite's clinician key) and a clinical safety officer with a key
 * of their own; each is the principal the service derives from the key, never a typed name.
 */
export const AUTHOR_KEY = STAFF.clinician['x-api-key']!;
export const OFFICER_KEY = 'test-key-safety-officer-000000';
export const KEYS_ENV = { TRIAGE_API_KEYS: `${SECURITY_ENV.TRIAGE_API_KEYS},clinician:${OFFICER_KEY}` };
const keys = new ApiKeys(parseApiKeys(KEYS_ENV.TRIAGE_API_KEYS));
export const AUTHOR = keys.verify(AUTHOR_KEY)!;
export const OFFICER = keys.verify(OFFICER_KEY)!;
export const AS_OFFICER = { 'x-api-key': OFFICER_KEY };
export const ADMIN_KEY = STAFF.admin['x-api-key']!;
export const ADMIN = keys.verify(ADMIN_KEY)!;

/**
 * A copy of the basic rules with one edit, self-care only for pain under `days` days, at its own
 * version (each distinct content must have one), and the scenarios a release needs (the red flag
 * covered, and the self-care rule).
 */
export function rulesWith(t: Test, days: number, version = `1.0.${days}`): string {
  const dir = tempDir(t);
  cpSync(BASIC_RULES, dir, { recursive: true });
  const file = path.join(dir, 'sample.yaml');
  writeFileSync(file, readFileSync(file, 'utf8').replace('{ fact: days, operator: lessThan, value: 3 }', `{ fact: days, operator: lessThan, value: ${days} }`).replace('version: 1.0.0', `version: ${version}`));
  writeFileSync(
    path.join(dir, 'sample.scenarios.yaml'),
    [
      'pathway: sample',
      'scenarios:',
      '  - name: emergency',
      '    patient: { ageYears: 30, sex: female }',
      '    answers: [{ emergency: true }]',
      '    expect: { kind: escalate, disposition: ED-999, ruleId: rf-emergency }',
      '  - name: short dull pain',
      '    patient: { ageYears: 30, sex: female }',
      '    answers: [{ emergency: false }, { severe: false }, { kind: dull }, { days: 0 }]',
      '    expect: { kind: self_care, disposition: SC-REST, ruleId: s-short-dull }',
    ].join('\n'),
  );
  return dir;
}

export async function record(app: TestApp, dir: string) {
  return app.releases.record({ author: AUTHOR, catalog: await loadRuleCatalog(dir), summary: `self-care threshold from ${dir}`, hazards: ['H-05'], checks: {} });
}

export const signOff = (app: TestApp, id: string, headers: Record<string, string> = AS_OFFICER) => post(app, `/v1/admin/releases/${id}/sign-off`, {}, headers);

/** A release recorded by the author and signed off by the officer, through the API. */
export async function signedOff(app: TestApp, dir: string) {
  const release = await record(app, dir);
  const res = await signOff(app, release.id);
  if (res.status !== 200) throw new Error(`sign-off refused: ${res.body.detail}`);
  return release;
}

export const activate = (app: TestApp, id: string, headers = STAFF.admin) => post(app, `/v1/admin/releases/${id}/activate`, {}, headers);

/** The CLI with the suite's keys configured (as the service has them) and the caller's credential. */
export function cliOn(db: string, extra: Record<string, string> = {}) {
  const env = { ...KEYS_ENV, CONTACT_ENCRYPTION_KEYS: SECURITY_ENV.CONTACT_ENCRYPTION_KEYS, DATABASE_URL: db, ...extra };
  return (args: string[], key?: string) => runCli(run, args, { env: key ? { ...env, TRIAGE_API_KEY: key } : env });
}
