/** Seconds in an ISO 8601 duration of the form rule files use (P1D, PT1H, PT30M, PT0M). */
export function durationSeconds(duration: string): number {
  const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?$/.exec(duration);
  if (!m) {
    throw new Error(`not an ISO 8601 duration: ${duration}`);
  }
  return Number(m[1] ?? 0) * 86400 + Number(m[2] ?? 0) * 3600 + Number(m[3] ?? 0) * 60;
}

/** A duration in words, for explanations: "1 hour", "6 hours", "30 minutes", "1 day". */
export function durationWords(duration: string): string {
  let left = durationSeconds(duration);
  if (left === 0) return 'now';
  const parts: string[] = [];
  for (const [unit, size] of [['day', 86400], ['hour', 3600], ['minute', 60]] as const) {
    const n = Math.floor(left / size);
    left -= n * size;
    if (n > 0) parts.push(`${n} ${unit}${n === 1 ? '' : 's'}`);
  }
  return parts.join(' ');
}
