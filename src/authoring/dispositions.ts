import type { RuleCatalog } from '../rulesets/loader.js';
import { durationWords } from '../rulesets/duration.js';
import type { OutcomeKind } from '../rulesets/schema.js';

/** Where the generated reference lives, from the repository root. */
export const DISPOSITIONS_DOC = 'docs/dispositions.md';

const KIND_HEADINGS: Record<OutcomeKind, string> = {
  escalate: 'Emergency: call 999, A&E or an urgent treatment centre (escalate)',
  callback: 'A clinician calls back (callback)',
  self_care: 'Look after yourself, or with a pharmacist (self_care)',
};

const cell = (text: string): string => text.replace(/\|/g, '\\|');

/**
 * docs/dispositions.md: the catalogue (rules/dispositions.yaml) as a reference for authors and
 * reviewers, generated so that it cannot drift from what validate enforces.
 */
export function dispositionsMarkdown(catalog: Pick<RuleCatalog, 'dispositions'>): string {
  const { dispositions } = catalog.dispositions.content;
  const lines = [
    '# Dispositions',
    '',
    '<!-- Generated from rules/dispositions.yaml by `npm run rules -- dispositions --write`; do not edit by hand. -->',
    '',
    'Every outcome in a rule file names one of these disposition codes, with the same kind and time',
    'frame (`within`): `triage-rules validate` refuses anything else. To add a code, append it to',
    'rules/dispositions.yaml and regenerate this page; prefer the generic codes where they fit.',
    '',
    `${dispositions.length} codes.`,
  ];
  for (const kind of ['escalate', 'callback', 'self_care'] as const) {
    const rows = dispositions.filter((d) => d.kind === kind);
    if (rows.length === 0) continue;
    lines.push('', `## ${KIND_HEADINGS[kind]}`, '', '| Code | Within | Service |', '| --- | --- | --- |');
    for (const d of rows) {
      const within = d.within ? `${d.within} (${durationWords(d.within)})` : '-';
      lines.push(`| \`${d.code}\` | ${within} | ${cell(d.service)}${d.description ? ` - ${cell(d.description)}` : ''} |`);
    }
  }
  return `${lines.join('\n')}\n`;
}
