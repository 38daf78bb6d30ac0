import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import benchWorker, { createBenchApp } from "../bench/worker";
import { createApp } from "../src/app";
import { ConfigError, parseConfig } from "../src/config";

// Timings are never asserted here: this proves the bench routes exist in the bench Worker only, and work.
const production = createApp();
const benchApp = createBenchApp();
const BASE = "https://auth.example.test";
// A development Worker answers only loopback hosts (src/middleware.ts), as the bench server is.
const LOCAL = "http://localhost:8787";

// A valid production configuration (it refuses a short SECRET_KEY, console email, plain http), so the
// 404 can only come from the routes not being there, not from a misconfiguration answer.
const PRODUCTION_SAFE = {
  SECRET_KEY: "x".repeat(48),
  EMAIL_TRANSPORT: "resend",
  RESEND_API_KEY: "re_bench_test_unused",
  APP_URL: "https://auth.example.test",
};
const call = (environment: string, path: string, init?: RequestInit) =>
  production.request(`${environment === "development" ? LOCAL : BASE}${path}`, init, {
    ...env,
    ...PRODUCTION_SAFE,
    ENVIRONMENT: environment,
  });
// bench/lib/server.mjs runs the bench Worker with ENVIRONMENT=development.
const bench = (path: string, init?: RequestInit) =>
  benchApp.request(`${LOCAL}${path}`, init, { ...env, ENVIRONMENT: "development" });
const postJson = (body: unknown): RequestInit => ({
  method: "POST",
  headers: { "Content-Type": "application/json" },
  body: JSON.stringify(body),
});

describe("bench routes", () => {
  it.each(["test", "development", "production"])(
    "are not in the production app whatever ENVIRONMENT is (%s)",
    async (environment) => {
      for (const path of [
        "/__bench/bare",
        "/__bench/plain",
        "/__bench/plain-headers",
        "/__bench/reference?id=x",
        "/__bench/pk-reference?uid=x",
        "/__bench/audit",
        "/__bench/audit/last-cursor",
      ]) {
        const res = await call(environment, path);
        expect(res.status).toBe(404);
        expect(await res.json()).toMatchObject({ code: "not_found" });
      }
      const create = postJson({ email: "nope@example.com", password: "correct horse battery" });
      expect((await call(environment, "/__bench/users", create)).status).toBe(404);
      expect((await call(environment, "/__bench/hash", postJson({ password: "x" }))).status).toBe(404);
      expect((await call(environment, "/__bench/login-reference", create)).status).toBe(404);
      expect((await call(environment, "/__bench/seed-audit?n=5&user_id=x", { method: "POST" })).status).toBe(
        404,
      );
      expect((await call(environment, "/__bench/seed-users?n=5", { method: "POST" })).status).toBe(404);
      const rows = await env.DB.prepare(
        "SELECT count(*) AS n FROM users WHERE email = 'nope@example.com'",
      ).first<{
        n: number;
      }>();
      expect(rows?.n).toBe(0);
      const seeded = await env.DB.prepare(
        "SELECT count(*) AS n FROM audit_log WHERE user_agent = 'edge-auth-bench'",
      ).first<{ n: number }>();
      expect(seeded?.n).toBe(0);
    },
  );

  it("cannot be switched on by configuration: ENVIRONMENT=bench is not a setting", () => {
    expect(() => parseConfig({ ENVIRONMENT: "bench" })).toThrow(ConfigError);
  });

  it("are left out of the OpenAPI document, which is the production one", async () => {
    const res = await bench("/openapi.json");
    const doc = (await res.json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths).filter((p) => p.startsWith("/__bench"))).toEqual([]);
    expect(doc).toEqual(await (await call("test", "/openapi.json")).json());
  });

  it("answer in the bench Worker, behind the production middleware", async () => {
    const bare = await bench("/__bench/bare");
    expect(bare.status).toBe(200);
    expect(await bare.json()).toEqual({ ok: true });
    expect(bare.headers.get("X-Request-Id")).toBeTruthy();

    const created = await bench(
      "/__bench/users",
      postJson({ email: "Bench.User@example.com", password: "correct horse battery" }),
    );
    expect(created.status).toBe(201);
    const user = (await created.json()) as { id: string; email: string; is_verified: boolean };
    expect(user).toMatchObject({ email: "Bench.User@example.com", is_verified: true, role: "user" });

    const stored = await env.DB.prepare("SELECT password_hash, is_verified FROM users WHERE id = ?")
      .bind(user.id)
      .first<{ password_hash: string; is_verified: number }>();
    expect(stored?.is_verified).toBe(1);
    expect(stored?.password_hash).toMatch(
      /^\$scrypt\$ln=14,r=8,p=1,k=5\$[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]+={0,2}$/,
    );

    const again = await bench(
      "/__bench/users",
      postJson({ email: "bench.user@EXAMPLE.com", password: "correct horse battery" }),
    );
    expect(again.status).toBe(409);
    // The app's own validation: a bad body is its usual 422 problem, not a 500.
    const invalid = await bench("/__bench/users", postJson({ email: "x" }));
    expect(invalid.status).toBe(422);
    expect(await invalid.json()).toMatchObject({ code: "validation_error" });

    const hashed = await bench("/__bench/hash", postJson({ password: "correct horse battery" }));
    expect(hashed.status).toBe(200);

    // The login reference does login's I/O for real: the right password opens a session row.
    const credentials = { email: "bench.user@example.com", password: "correct horse battery" };
    const signedIn = await bench("/__bench/login-reference", postJson(credentials));
    expect(signedIn.status).toBe(200);
    const pair = (await signedIn.json()) as { access_token: string; refresh_token: string };
    const session = await env.DB.prepare("SELECT user_id, current_hash FROM sessions WHERE id = ?")
      .bind(pair.access_token)
      .first<{ user_id: string; current_hash: string }>();
    expect(session).toEqual({ user_id: user.id, current_hash: pair.refresh_token });

    // The /auth/me reference reads that session with its account; a revoked session is refused.
    const ref = await bench(`/__bench/reference?sid=${pair.access_token}`);
    expect(ref.status).toBe(200);
    // The same presenter as /auth/me: the reference serialises exactly what the route does.
    expect(await ref.json()).toEqual(user);
    expect((await bench("/__bench/reference?sid=missing")).status).toBe(404);
    await env.DB.prepare("UPDATE sessions SET revoked_at = ? WHERE id = ?")
      .bind(Date.now(), pair.access_token)
      .run();
    expect((await bench(`/__bench/reference?sid=${pair.access_token}`)).status).toBe(401);
    const wrong = await bench(
      "/__bench/login-reference",
      postJson({ ...credentials, password: "wrong one" }),
    );
    expect(wrong.status).toBe(401);
    const unknown = { ...credentials, email: "nobody@example.com" };
    expect((await bench("/__bench/login-reference", postJson(unknown))).status).toBe(401);
  });

  it("serves the plain-route reference before any middleware, and the one-primary-key-read reference", async () => {
    const plain = await benchWorker.fetch(new Request(`${LOCAL}/__bench/plain`), {
      ...env,
      ENVIRONMENT: "development",
    } as never);
    expect(plain.status).toBe(200);
    expect(await plain.json()).toEqual({ ok: true });
    // No middleware of ours ran: it has no request id (the bare route, behind them, has one).
    expect(plain.headers.get("X-Request-Id")).toBeNull();

    // The same plain route carrying every response header the bare route gets, still before any
    // middleware of ours (no CORS, limits or checks): the same header names and values, a fresh id each.
    const withHeaders = await benchWorker.fetch(new Request(`${LOCAL}/__bench/plain-headers`), {
      ...env,
      ENVIRONMENT: "development",
    } as never);
    const bare = await bench("/__bench/bare");
    expect(withHeaders.status).toBe(200);
    expect(await withHeaders.json()).toEqual({ ok: true });
    const headersOf = (res: Response): [string, string][] =>
      [...res.headers].filter(([name]) => name !== "x-request-id");
    expect(headersOf(withHeaders)).toEqual(headersOf(bare));
    expect(withHeaders.headers.get("X-Request-Id")).toMatch(/^[0-9a-f-]{36}$/);

    const created = await bench(
      "/__bench/users",
      postJson({ email: "pk.reference@example.com", password: "correct horse battery" }),
    );
    const user = (await created.json()) as { id: string; email: string };
    const ref = await bench(`/__bench/pk-reference?uid=${user.id}`);
    expect(ref.status).toBe(200);
    expect(await ref.json()).toMatchObject({ id: user.id, email: "pk.reference@example.com" });
    expect((await bench("/__bench/pk-reference?uid=missing")).status).toBe(404);
  });

  it("writes the sign-in five ways: bare, chained and with the outbox row, tail read ahead or in line", async () => {
    const created = await bench("/__bench/users", postJson({ email: "events@example.com", password: "x" }));
    const user = (await created.json()) as { id: string };
    const rows = async (sql: string) =>
      (await env.DB.prepare(sql).bind(user.id).first<{ n: number }>())?.n ?? 0;
    const variants = ["bare", "chained", "outbox", "chained-inline", "outbox-inline"];
    for (const variant of variants) {
      const res = await bench(
        `/__bench/session-write?variant=${variant}&overlap_ms=5&warm=${variant.endsWith("inline") ? 1 : 0}&user_id=${user.id}`,
        {
          method: "POST",
        },
      );
      expect(res.status).toBe(200);
    }
    expect(await rows("SELECT count(*) AS n FROM sessions WHERE user_id = ?")).toBe(5);
    // Four chained entries, seq 1..4 without a gap; two of them with their webhook delivery row.
    const seqs = await env.DB.prepare("SELECT seq FROM audit_log WHERE user_id = ? ORDER BY seq")
      .bind(user.id)
      .all<{ seq: number }>();
    expect(seqs.results.map((r) => r.seq)).toEqual([1, 2, 3, 4]);
    expect(await rows("SELECT count(*) AS n FROM webhook_outbox WHERE user_id = ?")).toBe(2);
    const bad = await bench(`/__bench/session-write?variant=nope&user_id=${user.id}`, { method: "POST" });
    expect(bad.status).toBe(422);
    const long = await bench(`/__bench/session-write?variant=bare&overlap_ms=5000&user_id=${user.id}`, {
      method: "POST",
    });
    expect(long.status).toBe(422);
  });

  it("seeds users, each with a live session", async () => {
    const count = async (table: string) =>
      (await env.DB.prepare(`SELECT count(*) AS n FROM ${table}`).first<{ n: number }>())?.n ?? 0;
    const [users, sessions] = [await count("users"), await count("sessions")];
    const seeded = await bench("/__bench/seed-users?n=1500", { method: "POST" });
    expect(seeded.status).toBe(201);
    expect(await seeded.json()).toMatchObject({ inserted: 1500 });
    expect(await count("users")).toBe(users + 1500);
    expect(await count("sessions")).toBe(sessions + 1500);
    const orphans = await env.DB.prepare(
      "SELECT count(*) AS n FROM sessions s LEFT JOIN users u ON u.id = s.user_id WHERE u.id IS NULL",
    ).first<{ n: number }>();
    expect(orphans?.n).toBe(0);
  });

  it("seeds the audit log and pages it from both ends", async () => {
    const userId = crypto.randomUUID();
    const seeded = await bench(`/__bench/seed-audit?n=250&user_id=${userId}`, { method: "POST" });
    expect(seeded.status).toBe(201);
    expect(await seeded.json()).toMatchObject({ inserted: 250, user_id: userId });

    const first = await bench(`/__bench/audit?user_id=${userId}&limit=50`);
    const firstPage = (await first.json()) as {
      items: { id: string; created_at: string; user_id: string }[];
      next_cursor: string | null;
    };
    expect(firstPage.items).toHaveLength(50);
    expect(firstPage.next_cursor).not.toBeNull();
    expect(new Set(firstPage.items.map((i) => i.user_id))).toEqual(new Set([userId]));

    const tail = (await (await bench(`/__bench/audit/last-cursor?user_id=${userId}&limit=50`)).json()) as {
      cursor: string;
    };
    const last = (await (
      await bench(`/__bench/audit?user_id=${userId}&limit=50&cursor=${tail.cursor}`)
    ).json()) as typeof firstPage;
    expect(last.items).toHaveLength(50);
    expect(last.next_cursor).toBeNull();
    const oldest = await env.DB.prepare(
      "SELECT id FROM audit_log WHERE user_id = ? ORDER BY created_at ASC, id ASC LIMIT 50",
    )
      .bind(userId)
      .all<{ id: string }>();
    expect(last.items.map((i) => i.id).sort()).toEqual(oldest.results.map((r) => r.id).sort());
  });
});
