import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { applyRetention, ENDED_SESSION_GRACE_MS, type RetentionLimits } from "../../src/audit/retention";
import { getConfig } from "../../src/config";
import { newId } from "../../src/lib/crypto";
import type { Database } from "../../src/storage/types";
import { database } from "../helpers";
import { rawSql } from "../support/raw-sql";

// The expiry clean-up over a generated backlog, on D1 and on Postgres: each statement removes at most
// one batch, one run stays within its statement budget, and repeated runs drain the backlog while
// every live row stays.

const DAY = 24 * 60 * 60 * 1000;
// A clock of its own, far from the other tests' data, so only this file's rows are past any cutoff.
const NOW = new Date("1961-01-01T00:00:00.000Z");
const LONG_AGO = NOW.getTime() - 200 * DAY;
const BACKLOG = 450;

const postgres = (): boolean => Boolean(getConfig(env).DATABASE_URL);
/** A bound time as each store keeps it: epoch milliseconds on D1, a timestamptz on Postgres. */
const time = (ms: number): number | string => (postgres() ? new Date(ms).toISOString() : ms);
const cast = (): string => (postgres() ? "::timestamptz" : "");

/** Inserts `count` rows built by `select` (which sees the row number as `i`) in one statement. */
async function generate(count: number, insert: string, select: string, params: unknown[]): Promise<void> {
  await rawSql(
    `with recursive n(i) as (select 1 union all select i + 1 from n where i < ?) ${insert} ${select} from n`,
    [count, ...params],
  );
}

type Kind =
  | "sessions"
  | "refresh_tokens"
  | "one_time_tokens"
  | "counters"
  | "login_throttle"
  | "passkey_challenges";

/** This seed's rows of a table (the file's tests share one database): every id starts with its tag. */
async function count(seeded: Seeded, table: Kind): Promise<number> {
  const where: Record<Kind, [string, string]> = {
    sessions: ["user_id = ?", seeded.userId],
    refresh_tokens: ["token_hash like ?", `${seeded.tag}-%`],
    one_time_tokens: ["user_id = ?", seeded.userId],
    counters: ["key like ?", `${seeded.tag}-%`],
    login_throttle: ["key like ?", `${seeded.tag}-%`],
    passkey_challenges: ["challenge_hash like ?", `${seeded.tag}-%`],
  };
  const [condition, value] = where[table];
  const [row] = await rawSql(`select count(*) as n from ${table} where ${condition}`, [value]);
  return Number(row?.n);
}

interface Seeded {
  userId: string;
  tag: string;
  liveSessionId: string;
}

/** A backlog of BACKLOG expired rows of every kind, and one live row of every kind. */
async function seedBacklog(db: Database): Promise<Seeded> {
  const tag = newId().slice(0, 8);
  const userId = newId();
  await db.users.create({
    id: userId,
    email: `backlog-${tag}@example.com`,
    fullName: null,
    passwordHash: null,
    role: "user",
    isVerified: true,
    now: new Date(LONG_AGO),
  });
  const c = cast();
  const ended = time(LONG_AGO + DAY);
  const old = time(LONG_AGO);
  // Half the ended sessions expired, half were revoked while still unexpired (found through revoked_at).
  await generate(
    BACKLOG,
    "insert into sessions (id, user_id, current_hash, created_at, last_used_at, expires_at, revoked_at)",
    `select '${tag}-s-' || i, ?, '${tag}-h-' || i, ?${c}, ?${c}, case when i % 2 = 0 then ?${c} else ?${c} end, case when i % 2 = 0 then null else ?${c} end`,
    [userId, old, old, ended, time(NOW.getTime() + DAY), ended],
  );
  // Two history rows per ended session: they must go with it.
  for (const n of [1, 2]) {
    await rawSql(
      `insert into refresh_tokens (token_hash, session_id, created_at) select id || '-r${n}', id, created_at from sessions where user_id = ?`,
      [userId],
    );
  }
  await generate(
    BACKLOG,
    "insert into one_time_tokens (token_hash, purpose, user_id, created_at, expires_at)",
    `select '${tag}-t-' || i, 'mfa', ?, ?${c}, ?${c}`,
    [userId, old, ended],
  );
  await generate(
    BACKLOG,
    'insert into counters (key, "count", reset_at)',
    `select '${tag}-c-' || i, 3, ?${c}`,
    [ended],
  );
  await generate(
    BACKLOG,
    "insert into login_throttle (key, attempts, window_ends_at, locked_until)",
    `select '${tag}-l-' || i, 2, ?${c}, null`,
    [ended],
  );
  await generate(
    BACKLOG,
    "insert into passkey_challenges (challenge_hash, purpose, user_id, created_at, expires_at)",
    `select '${tag}-p-' || i, 'authentication', null, ?${c}, ?${c}`,
    [old, ended],
  );

  // One live row of every kind, past nothing.
  const live = await db.sessions.create({
    id: newId(),
    userId,
    refreshHash: newId(),
    expiresAt: new Date(NOW.getTime() + DAY),
    ip: null,
    userAgent: null,
    now: new Date(NOW.getTime() - DAY),
  });
  await db.tokens.create({
    tokenHash: `${tag}-live-token`,
    purpose: "mfa",
    userId,
    expiresAt: new Date(NOW.getTime() + DAY),
    now: NOW,
  });
  await db.counters.increment(`${tag}-live-counter`, DAY, NOW);
  await db.passkeyChallenges.create({
    challengeHash: `${tag}-live-challenge`,
    purpose: "authentication",
    userId: null,
    expiresAt: new Date(NOW.getTime() + DAY),
    now: NOW,
  });
  return { userId, tag, liveSessionId: live.id };
}

async function expectOnlyLiveRowsLeft(db: Database, seeded: Seeded): Promise<void> {
  expect(await count(seeded, "sessions")).toBe(1);
  expect(await db.sessions.findById(seeded.liveSessionId)).not.toBeNull();
  // The ended sessions' history went with them; the live session's own history stays.
  expect(await count(seeded, "refresh_tokens")).toBe(0);
  const [history] = await rawSql("select count(*) as n from refresh_tokens where session_id = ?", [
    seeded.liveSessionId,
  ]);
  expect(Number(history?.n)).toBe(1);
  expect(await count(seeded, "one_time_tokens")).toBe(1);
  expect(await db.tokens.peek("mfa", `${seeded.tag}-live-token`, NOW)).not.toBeNull();
  expect(await count(seeded, "counters")).toBe(1);
  expect(await count(seeded, "login_throttle")).toBe(0);
  expect(await count(seeded, "passkey_challenges")).toBe(1);
}

describe("expiry clean-up in bounded batches", () => {
  it("removes at most one batch per statement, kind by kind, and nothing live", async () => {
    const db = database();
    try {
      const seeded = await seedBacklog(db);
      const sessionsCutoff = new Date(NOW.getTime() - ENDED_SESSION_GRACE_MS);
      const historyBefore = await count(seeded, "refresh_tokens");
      expect(historyBefore).toBe(2 * BACKLOG);

      expect(await db.sessions.deleteEndedBefore(sessionsCutoff, 100)).toBe(100);
      expect(await count(seeded, "sessions")).toBe(BACKLOG + 1 - 100);
      // Exactly those sessions' history (two rows each) went with them.
      expect(await count(seeded, "refresh_tokens")).toBe(historyBefore - 200);
      expect(await db.tokens.deleteExpiredBefore(NOW, 100)).toBe(100);
      expect(await count(seeded, "one_time_tokens")).toBe(BACKLOG + 1 - 100);
      expect(await db.counters.deleteExpiredBefore(NOW, 100)).toBe(100);
      expect(await count(seeded, "counters")).toBe(BACKLOG + 1 - 100);
      expect(await db.loginThrottle.deleteExpiredBefore(NOW, 100)).toBe(100);
      expect(await count(seeded, "login_throttle")).toBe(BACKLOG - 100);
      expect(await db.passkeyChallenges.deleteExpiredBefore(NOW, 100)).toBe(100);
      expect(await count(seeded, "passkey_challenges")).toBe(BACKLOG + 1 - 100);

      // A batch larger than what is left takes the rest and says so by coming back short.
      expect(await db.sessions.deleteEndedBefore(sessionsCutoff, 10_000)).toBe(BACKLOG - 100);
      expect(await db.tokens.deleteExpiredBefore(NOW, 10_000)).toBe(BACKLOG - 100);
      expect(await db.counters.deleteExpiredBefore(NOW, 10_000)).toBe(BACKLOG - 100);
      expect(await db.loginThrottle.deleteExpiredBefore(NOW, 10_000)).toBe(BACKLOG - 100);
      expect(await db.passkeyChallenges.deleteExpiredBefore(NOW, 10_000)).toBe(BACKLOG - 100);
      await expectOnlyLiveRowsLeft(db, seeded);
    } finally {
      await db.close();
    }
  });

  it("keeps one run within its statement budget and drains the backlog over repeated runs", async () => {
    const db = database();
    const config = getConfig(env);
    const limits: RetentionLimits = { batchRows: 100, maxStatements: 10 };
    try {
      const seeded = await seedBacklog(db);
      const expired = 5 * BACKLOG; // sessions, tokens, counters, throttle rows, challenges

      const first = await applyRetention(db, config, NOW, limits);
      expect(first.statements).toBeLessThanOrEqual(limits.maxStatements);
      expect(first.drained).toBe(false);
      const firstTotal = first.sessions + first.oneTimeTokens + first.counters + first.passkeyChallenges;
      expect(firstTotal).toBeLessThanOrEqual(limits.maxStatements * limits.batchRows);
      // Round-robin: every kind got a batch, none starved by the others' backlog.
      for (const n of [first.sessions, first.oneTimeTokens, first.counters, first.passkeyChallenges]) {
        expect(n).toBeGreaterThanOrEqual(limits.batchRows);
      }
      // What it reports is what went.
      expect(await count(seeded, "sessions")).toBe(BACKLOG + 1 - first.sessions);
      expect(await count(seeded, "one_time_tokens")).toBe(BACKLOG + 1 - first.oneTimeTokens);

      let total = firstTotal;
      let runs = 1;
      let last = first;
      while (!last.drained) {
        last = await applyRetention(db, config, NOW, limits);
        expect(last.statements).toBeLessThanOrEqual(limits.maxStatements);
        total += last.sessions + last.oneTimeTokens + last.counters + last.passkeyChallenges;
        runs += 1;
        // A bound on the loop, generous: 2,250 rows at up to 1,000 a run.
        expect(runs).toBeLessThanOrEqual(6);
      }
      expect(total).toBe(expired);
      await expectOnlyLiveRowsLeft(db, seeded);

      // Once drained, a run costs one statement per kind and deletes nothing.
      const idle = await applyRetention(db, config, NOW, limits);
      expect(idle).toMatchObject({ sessions: 0, oneTimeTokens: 0, counters: 0, passkeyChallenges: 0 });
      expect(idle.drained).toBe(true);
      // (sessions cost two on D1; the webhook outbox's settled rows are a kind of their own)
      expect(idle.statements).toBe(db.kind === "d1" ? 7 : 6);
    } finally {
      await db.close();
    }
  });
});
