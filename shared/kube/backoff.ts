/** The wait before retry number `attempt` (0 for the first): doubles from `firstMs`, never above `maxMs`. */
export function backoffMs(attempt: number, firstMs = 250, maxMs = 10_000): number {
  return Math.min(maxMs, firstMs * 2 ** Math.max(0, attempt));
}
