/**
 * When webhook deliveries happen: the numbers the outbox, the deliverer and the admin retry share.
 * Pure functions, so the schedule is tested without a clock.
 */

/** A delivery is retried for this long after its event, then marked `failed` (API.md "Events"). */
export const DELIVERY_WINDOW_MS = 24 * 60 * 60 * 1000;

/** Outbound call deadline: a receiver that hangs costs a deliverer at most this per attempt. */
export const WEBHOOK_TIMEOUT_MS = 5_000;

/**
 * How long a claim keeps other deliverers off a row: well above the timeout, so a live deliverer always
 * settles before it lapses; a crashed one's rows are picked up again after it (at-least-once).
 */
export const LEASE_MS = 60_000;

const FIRST_RETRY_MS = 10_000;
const MAX_RETRY_MS = 60 * 60 * 1000;

/**
 * The pause after the `attempts`-th failed attempt: 10 s, 20 s, 40 s … doubling up to an hour, with up to
 * 10 % random spread so a receiver coming back is not hit by every backlog at the same instant.
 */
export function retryDelayMs(attempts: number, random: () => number = Math.random): number {
  const base = Math.min(FIRST_RETRY_MS * 2 ** Math.max(0, attempts - 1), MAX_RETRY_MS);
  return Math.round(base * (1 + random() / 10));
}

/** When the attempt after a failure is due, or null when the window is over and the row has failed. */
export function nextAttemptAfterFailure(attempts: number, now: Date, giveUpAt: Date): Date | null {
  if (now.getTime() >= giveUpAt.getTime()) return null;
  // The last retry lands on the deadline itself rather than past it.
  return new Date(Math.min(now.getTime() + retryDelayMs(attempts), giveUpAt.getTime()));
}
