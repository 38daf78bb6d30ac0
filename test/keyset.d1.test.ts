import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { openD1 } from "../src/storage/d1";

const db = openD1(env.DB);

async function collect<T>(
  next: (cursor: string | null) => Promise<{ items: T[]; nextCursor: string | null }>,
) {
  const all: T[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 100; pages++) {
    const page = await next(cursor);
    all.push(...page.items);
    cursor = page.nextCursor;
    if (!cursor) break;
  }
  return all;
}

describe("keyset pagination (D1)", () => {
  it("walks audit entries newest first, each exactly once, across equal timestamps", async () => {
    const userId = crypto.randomUUID();
    const same = new Date("2026-01-01T00:00:00.000Z");
    const ids: string[] = [];
    for (let i = 0; i < 70; i++) {
      const id = crypto.randomUUID();
      ids.push(id);
      // 40 entries share one timestamp, so pages must break ties on id.
      const createdAt = i < 40 ? same : new Date(same.getTime() + i * 1000);
      await db.audit.append({
        id,
        userId,
        action: "login_succeeded",
        ip: null,
        userAgent: null,
        createdAt,
        metadata: {},
      });
    }
    const seen = await collect((cursor) => db.audit.list({ limit: 15, cursor, userId }));
    expect(seen.map((e) => e.id).sort()).toEqual([...ids].sort());
    const order = seen.map((e) => [e.createdAt.getTime(), e.id] as const);
    const sorted = [...order].sort((a, b) => b[0] - a[0] || (a[1] < b[1] ? 1 : a[1] > b[1] ? -1 : 0));
    expect(order).toEqual(sorted);
  });

  it("walks users newest first, each exactly once, across equal timestamps", async () => {
    const now = new Date("2020-01-01T00:00:00.000Z");
    const prefix = `keyset-${crypto.randomUUID().slice(0, 8)}`;
    for (let i = 0; i < 23; i++) {
      await db.users.create({
        id: crypto.randomUUID(),
        email: `${prefix}-${i}@example.com`,
        fullName: null,
        passwordHash: null,
        role: "user",
        isVerified: true,
        now,
      });
    }
    const seen = await collect((cursor) => db.users.list({ limit: 5, cursor, emailPrefix: prefix }));
    expect(seen).toHaveLength(23);
    expect(new Set(seen.map((u) => u.id)).size).toBe(23);
    const ids = seen.map((u) => u.id);
    expect(ids).toEqual([...ids].sort().reverse());
  });
});
