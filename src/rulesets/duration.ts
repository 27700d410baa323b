/**
 * ISO 8601 durations as rule files and answers write them: days, hours and minutes (P1D, PT1H,
 * PT30M, PT0M, P1DT6H), or weeks alone (P2W, the only form ISO 8601 allows weeks in).
 */
export const ISO_DURATION = /^P(?:\d+W|(?=\d|T\d)(?:\d+D)?(?:T(?=\d)(?:\d+H)?(?:\d+M)?)?)$/;

/** Seconds in an ISO 8601 duration of the form rule files use. */
export function durationSeconds(duration: string): number {
  const m = /^P(?:(\d+)W|(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?)$/.exec(duration);
  if (!m || !ISO_DURATION.test(duration)) {
    throw new Error(`not an ISO 8601 duration: ${duration}`);
  }
  return Number(m[1] ?? 0) * 604800 + Number(m[2] ?? 0) * 86400 + Number(m[3] ?? 0) * 3600 + Number(m[4] ?? 0) * 60;
}

/** The unit a duration question's answer, and the values rules compare it with, reach the engine in. */
export const DURATION_UNIT = 'hours';
export function durationHours(duration: string): number {
  return durationSeconds(duration) / 3600;
}

/**
 * What a patient may answer to a duration question: hours, days or weeks (PT6H, P3D, P1DT6H,
 * P2W), not minutes: nobody knows how long they have had a symptom to the minute.
 */
export const DURATION_ANSWER = /^P(?:\d+W|(?=\d|T\d)(?:\d+D)?(?:T(?=\d)\d+H)?)$/;

/** A duration in words, for explanations: "1 hour", "6 hours", "30 minutes", "1 day", "2 weeks". */
export function durationWords(duration: string): string {
  let left = durationSeconds(duration);
  if (left === 0) return 'now';
  const parts: string[] = [];
  for (const [unit, size] of [
    ['week', 604800],
    ['day', 86400],
    ['hour', 3600],
    ['minute', 60],
  ] as const) {
    // Weeks only where the duration was written in weeks: "10 days" stays 10 days.
    if (unit === 'week' && !duration.endsWith('W')) continue;
    const n = Math.floor(left / size);
    left -= n * size;
    if (n > 0) parts.push(`${n} ${unit}${n === 1 ? '' : 's'}`);
  }
  return parts.join(' ');
}
