// Postgres/Redis only: while a steady, bounded load of logins, refreshes and /auth/me runs, Redis is
// stopped and restarted and the Postgres connections are killed. Every answer during the faults is 2xx,
// 401/429 or 503, none takes longer than 5 s, and afterwards every session created before the faults
// still refreshes. Only servers and connections of this file's own are touched: a redis-server this run
// started (test/pg-redis/fault-servers.ts) and this file's own cloned database (test/pg-redis/setup.ts).
import { env } from "cloudflare:workers";
import pg from "pg";
import { expect, inject, it, vi } from "vitest";
import { createApp } from "../../src/app";
import { BASE, CapturingEmailSender, PASSWORD, tokenFromEmail, uniqueEmail } from "../helpers";
import { requireSetting } from "./settings";

const { ownRedisUrl, controlUrl } = inject("faults");
const APPLICATION_NAME = `faults-${crypto.randomUUID().slice(0, 8)}`;
const databaseUrl = (() => {
  const u = new URL(requireSetting(env, "DATABASE_URL"));
  u.searchParams.set("application_name", APPLICATION_NAME);
  return u.toString();
})();

const LOAD_MS = 6_000;
const WORKERS = 3;
const ALLOWED = (status: number) => (status >= 200 && status < 300) || [401, 429, 503].includes(status);

const mailbox = new CapturingEmailSender();
const app = createApp({ email: mailbox });
const bindings = { ...env, DATABASE_URL: databaseUrl, REDIS_URL: ownRedisUrl };

interface Answer {
  what: string;
  status: number;
  ms: number;
  at: number;
}
const answers: Answer[] = [];
const started = Date.now();

async function call(what: string, path: string, init: { json?: unknown; token?: string } = {}) {
  const headers = new Headers();
  if (init.json !== undefined) headers.set("Content-Type", "application/json");
  if (init.token) headers.set("Authorization", `Bearer ${init.token}`);
  const t0 = Date.now();
  const res = await app.request(
    `${BASE}${path}`,
    { method: init.json !== undefined ? "POST" : "GET", headers, body: JSON.stringify(init.json) },
    bindings,
  );
  const body = res.headers.get("Content-Type")?.includes("json") ? await res.json<any>() : await res.text();
  answers.push({ what, status: res.status, ms: Date.now() - t0, at: t0 - started });
  return { status: res.status, body };
}

async function newUser(): Promise<{ email: string; access: string; refresh: string }> {
  const email = uniqueEmail("faults");
  expect((await call("setup", "/auth/register", { json: { email, password: PASSWORD } })).status).toBe(202);
  const token = tokenFromEmail(mailbox.last(email));
  expect((await call("setup", "/auth/verify", { json: { token } })).status).toBe(200);
  const login = await call("setup", "/auth/login", { json: { email, password: PASSWORD } });
  expect(login.status).toBe(200);
  return { email, access: login.body.access_token, refresh: login.body.refresh_token };
}

async function control(action: "stop" | "start"): Promise<void> {
  const res = await fetch(`${controlUrl}/redis/${action}`, { method: "POST" });
  expect(res.status, `redis ${action}`).toBe(204);
}

async function terminatePostgres(): Promise<number> {
  const admin = new pg.Client({ connectionString: requireSetting(env, "DATABASE_URL") });
  admin.on("error", () => {});
  await admin.connect();
  try {
    const { rows } = await admin.query(
      `select pg_terminate_backend(pid) from pg_stat_activity
        where application_name = $1 and pid <> pg_backend_pid()`,
      [APPLICATION_NAME],
    );
    return rows.length;
  } finally {
    await admin.end().catch(() => {});
  }
}

/** One client of the load: logs in, refreshes and calls /auth/me in turn until the time is up. */
async function worker(user: { email: string }, until: number): Promise<void> {
  let session: { access: string; refresh: string } | null = null;
  for (let i = 0; Date.now() < until; i++) {
    if (!session || i % 8 === 0) {
      const login = await call("login", "/auth/login", { json: { email: user.email, password: PASSWORD } });
      if (login.status === 200)
        session = { access: login.body.access_token, refresh: login.body.refresh_token };
      continue;
    }
    if (i % 2 === 0) {
      const refreshed = await call("refresh", "/auth/refresh", { json: { refresh_token: session.refresh } });
      // After a 503 the rotation may or may not have happened: start a new session rather than guess.
      if (refreshed.status === 200)
        session = { access: refreshed.body.access_token, refresh: refreshed.body.refresh_token };
      else session = null;
    } else {
      await call("me", "/auth/me", { token: session.access });
    }
  }
}

it("survives Redis stopping and restarting and Postgres connections being killed, under load", async () => {
  // Sessions made before any fault; they are not used again until the end.
  const before = [];
  for (let i = 0; i < 4; i++) before.push(await newUser());
  const loadUsers = [];
  for (let i = 0; i < WORKERS; i++) loadUsers.push(await newUser());
  answers.length = 0;
  // The outage's 503s are logged; count them instead of flooding the test output.
  const errors = vi.spyOn(console, "error").mockImplementation(() => {});
  const errorLines = () => errors.mock.calls.length;

  const loadStart = Date.now();
  const until = loadStart + LOAD_MS;
  const faults = (async () => {
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    await sleep(1_000);
    await control("stop");
    await sleep(1_500);
    await control("start");
    // Connections live as long as a request: keep terminating for a while to hit requests in flight.
    let killed = 0;
    for (let i = 0; i < 20; i++) {
      killed += await terminatePostgres();
      await sleep(75);
    }
    return killed;
  })();
  await Promise.all([...loadUsers.map((u) => worker(u, until)), faults]);
  const killed = await faults;

  const counts: Record<string, Record<number, number>> = {};
  for (const a of answers) {
    counts[a.what] ??= {};
    counts[a.what]![a.status] = (counts[a.what]![a.status] ?? 0) + 1;
  }
  const slowest = answers.reduce((a, b) => (b.ms > a.ms ? b : a));
  console.log(
    `faults under load: ${answers.length} requests in ${Date.now() - loadStart} ms, slowest ${slowest.ms} ms ` +
      `(${slowest.what} ${slowest.status} at +${slowest.at} ms), ${errorLines()} error log lines, ` +
      `${killed} Postgres connections terminated; status counts per request kind: ${JSON.stringify(counts)}`,
  );

  expect(answers.length).toBeGreaterThan(20);
  expect(answers.filter((a) => !ALLOWED(a.status))).toEqual([]);
  expect(slowest.ms).toBeLessThan(5_000);
  // The faults were real: some requests met the dead Redis (503), and Postgres connections were killed.
  expect(answers.some((a) => a.status === 503)).toBe(true);
  expect(killed).toBeGreaterThan(0);

  errors.mockRestore();
  // Recovery: every session created before the faults still refreshes, and its new token works.
  for (const user of before) {
    const refreshed = await call("after", "/auth/refresh", { json: { refresh_token: user.refresh } });
    expect(refreshed.status, user.email).toBe(200);
    const me = await call("after", "/auth/me", { token: refreshed.body.access_token });
    expect(me.status).toBe(200);
    expect(me.body.email).toBe(user.email);
  }
}, 60_000);
