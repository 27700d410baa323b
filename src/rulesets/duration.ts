/** Seconds in an ISO 8601 duration of the form rule files use (P1D, PT1H, PT30M, PT0M). */
export function durationSeconds(duration: string): number {
  const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?$/.exec(duration);
  if (!m) {
    throw new Error(`not an ISO 8601 duration: ${duration}`);
  }
  return Number(m[1] ?? 0) * 86400 + Number(m[2] ?? 0) * 3600 + Number(m[3] ?? 0) * 60;
}
