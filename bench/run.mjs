// `npm run bench`: measured speed of the hot paths, side by side with bench-only references, in one run.
//
// Starts `wrangler dev` on a free loopback port with a fresh --persist-to dir under bench/.state (local
// D1 + KV, migrations applied first), runs every phase, stops wrangler, prints one line per figure
// (`name: value unit (ratio to its reference)`) and writes everything to bench/results/<timestamp>.json.
// Loopback only; every loop is bounded in time. Timings are for comparison on one machine, not SLAs.
//
// Knobs (environment): BENCH_DURATION (s per load phase, 8), BENCH_WARMUP (s, 1.5), BENCH_CONNECTIONS
// (32), BENCH_REFRESH_CONNECTIONS (8), BENCH_SLOW_CONNECTIONS (4, register), BENCH_LOGIN_COUNT (60),
// BENCH_AUDIT_ROWS (1000000), BENCH_STARTUP_RUNS (5), BENCH_STORM_CONNECTIONS (4, login storm),
// BENCH_STORM_READERS (8, /auth/me during the storm), BENCH_SCALE_USERS (1000000), BENCH_SCALE_COUNT (60),
// BENCH_KEEP_STATE=1 keeps bench/.state for inspection, BENCH_STATE_DIR (put local D1/KV there instead,
// e.g. /dev/shm), BENCH_EVENTS_COUNT (300, sign-in writes per
// variant), BENCH_EVENTS_OVERLAP_MS (50, the hash stand-in), BENCH_DATABASE_URL (events on Postgres too:
// a database the bench may migrate and write to; skipped when unset), BENCH_POOLED_DATABASE_URL (the same
// database through a pooler in transaction mode, e.g. pgbouncer: the pooled row; skipped when unset), BENCH_PHASES (comma list of phases to run, e.g. "events"; all when unset).
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
// The tests' software authenticator (ES256, attestation none); Node loads it with type stripping.
import { SoftwareAuthenticator } from "../test/passkeys/authenticator.ts";
import { eventsOnD1, eventsOnPostgres } from "./lib/events.mjs";
import { alternate, load, rotatingSequential, round, sequential } from "./lib/load.mjs";
import { applyMigrations, benchVars, freePort, startWrangler, wranglerVersion } from "./lib/server.mjs";
import { profileStartup } from "./lib/startup.mjs";

if (Number(process.versions.node.split(".")[0]) < 22) {
  console.error(`bench: Node ${process.version}; wrangler needs Node 22+. Run it as \`npm run bench\`.`);
  process.exit(1);
}

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");

const num = (name, def) => {
  const v = Number(process.env[name]);
  return process.env[name] && Number.isFinite(v) && v > 0 ? v : def;
};
const S = {
  duration: num("BENCH_DURATION", 8),
  warmup: num("BENCH_WARMUP", 1.5),
  // bare/reference/me alternate in this many rounds (duration split between them), against drift.
  rounds: num("BENCH_ROUNDS", 4),
  connections: num("BENCH_CONNECTIONS", 32),
  // Each refresh chain starts from its own login (one scrypt each); 8 chains already saturate D1 writes.
  refreshConnections: num("BENCH_REFRESH_CONNECTIONS", 8),
  // Register hashes a password per request and workerd runs one isolate: more connections only queue.
  slowConnections: num("BENCH_SLOW_CONNECTIONS", 4),
  loginCount: num("BENCH_LOGIN_COUNT", 60),
  auditRows: num("BENCH_AUDIT_ROWS", 1_000_000),
  auditSmallRows: 1000,
  startupRuns: num("BENCH_STARTUP_RUNS", 5),
  stormConnections: num("BENCH_STORM_CONNECTIONS", 4),
  stormReaders: num("BENCH_STORM_READERS", 8),
  eventsCount: num("BENCH_EVENTS_COUNT", 300),
  // The password hash's stand-in in the events phase: the sign-in's tail read overlaps it.
  eventsOverlapMs: num("BENCH_EVENTS_OVERLAP_MS", 50),
  phases: (process.env.BENCH_PHASES ?? "")
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean),
  scaleUsers: num("BENCH_SCALE_USERS", 1_000_000),
  scaleSmallUsers: 1000,
  // Sequential requests per scale measure (login a third of it: each is a scrypt).
  scaleCount: num("BENCH_SCALE_COUNT", 60),
  pageCount: 30,
  pageLimit: 50,
};

const PASSWORD = "bench-Correct-Horse-Battery-42";
const runId = randomBytes(4).toString("hex");
const progress = (msg) => process.stderr.write(`· ${msg}\n`);

// ---------------------------------------------------------------- figures
const figures = [];
const raw = {};

function figure(name, value, unit, ratio, ref, note) {
  figures.push({
    name,
    value: value ?? null,
    unit,
    ratio: ratio === undefined || ratio === null || !Number.isFinite(ratio) ? null : round(ratio, 2),
    ratio_to: ref ?? null,
    note: note ?? null,
  });
}

function missing(name, why) {
  figures.push({ name, value: null, unit: null, ratio: null, ratio_to: null, note: why });
}

function fmt(v, unit) {
  if (unit === "req/s") return v >= 100 ? v.toFixed(0) : v.toFixed(1);
  if (unit === "ms") return v >= 100 ? v.toFixed(0) : v.toFixed(2);
  if (unit === "s") return v.toFixed(1);
  return String(v);
}

function line(f) {
  if (f.value === null) return `${f.name}: n/a (${f.note})`;
  const ratio = f.ratio === null ? "" : ` (${f.ratio.toFixed(2)}× ${f.ratio_to})`;
  const note = f.note ? ` [${f.note}]` : "";
  return `${f.name}: ${fmt(f.value, f.unit)} ${f.unit}${ratio}${note}`.replace(/ {2,}/g, " ");
}

// ---------------------------------------------------------------- HTTP helpers
let base = "";

async function call(method, path, { body, token } = {}) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(`${base}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, json, text };
}

async function expectStatus(what, promise, status) {
  const r = await promise;
  if (r.status !== status)
    throw new Error(`${what}: expected ${status}, got ${r.status} ${r.text.slice(0, 300)}`);
  return r.json;
}

/** An endpoint "exists" unless the app answers the catch-all 404/405 for it. */
async function exists(method, path, body) {
  const r = await call(method, path, { body });
  return !(r.status === 404 && r.json?.code === "not_found") && r.status !== 405;
}

async function login(email) {
  const tokens = await expectStatus(
    "POST /auth/login",
    call("POST", "/auth/login", { body: { email, password: PASSWORD } }),
    200,
  );
  if (!tokens?.access_token || !tokens?.refresh_token) {
    throw new Error(`POST /auth/login: no token response: ${JSON.stringify(tokens).slice(0, 200)}`);
  }
  return tokens;
}

// ---------------------------------------------------------------- phases
/**
 * Cold start, before wrangler dev starts (so it does not compete): `wrangler check startup` on the
 * production Worker (root wrangler.toml) and on the reference (bench/startup-reference.ts: a bare Hono
 * app importing the same service lazily, i.e. the same bundle with nothing evaluated at start-up).
 */
function coldStart() {
  progress(`startup: wrangler check startup, production and reference, ${S.startupRuns} runs each`);
  const r = profileStartup(
    root,
    { app: "wrangler.toml", reference: join("bench", "startup-reference.toml") },
    S.startupRuns,
  );
  raw.startup = r;
  for (const [label, key] of [
    ["fastest", "min_active_ms"],
    ["median", "active_ms"],
  ]) {
    const ratio = r.app[key] / r.reference[key];
    figure(
      `startup CPU (${label} of ${S.startupRuns})`,
      r.app[key],
      "ms",
      ratio,
      "reference",
      `goal ≤ 98 ms: ${r.app[key] <= 98 ? "met" : "NOT met"}`,
    );
    figure(`startup CPU reference (${label}; bare Hono, same bundle, lazy)`, r.reference[key], "ms");
  }
  const gzipOk = r.app.gzip_kib <= 450;
  figure(
    "bundle gzip",
    r.app.gzip_kib,
    "KiB",
    undefined,
    undefined,
    `${r.app.bundle_kib} KiB raw; goal ≤ 450 KiB: ${gzipOk ? "met" : "NOT met"}`,
  );
}

/**
 * Login storm: /auth/me with BENCH_STORM_READERS connections alone, then the same while
 * BENCH_STORM_CONNECTIONS connections sign in nonstop on the same isolate. The hash gate
 * (src/auth/hash-gate.ts) must keep /auth/me p99 during the storm ≤ 2.5x its p99 alone.
 */
async function loginStorm(available, me) {
  if (!available.login || !available.me) {
    missing("/auth/me p99 during a login storm", "POST /auth/login or GET /auth/me not in this build");
    return;
  }
  const { access_token } = await login(me.email);
  const reads = {
    url: `${base}/auth/me`,
    connections: S.stormReaders,
    headers: { Authorization: `Bearer ${access_token}` },
    duration: S.duration,
    warmup: S.warmup,
  };
  progress(`storm: GET /auth/me alone, ${S.stormReaders} connections`);
  const alone = await load(reads);
  progress(`  p99 ${alone.p99_ms} ms`);
  progress(`storm: GET /auth/me during ${S.stormConnections} connections of POST /auth/login`);
  const [during, storm] = await Promise.all([
    load(reads),
    load({
      url: `${base}/auth/login`,
      connections: S.stormConnections,
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email: me.email, password: PASSWORD }),
      duration: S.duration,
      warmup: S.warmup,
    }),
  ]);
  progress(`  p99 ${during.p99_ms} ms; logins ${storm.rps}/s, statuses ${JSON.stringify(storm.statuses)}`);
  raw.storm_me_alone = alone;
  raw.storm_me_during = during;
  raw.storm_logins = storm;
  const ratio = during.p99_ms / alone.p99_ms;
  figure("/auth/me p99 alone", alone.p99_ms, "ms");
  figure(
    "/auth/me p99 during login storm",
    during.p99_ms,
    "ms",
    ratio,
    "alone",
    `goal ≤ 2.5×: ${ratio <= 2.5 ? "met" : "NOT met"}; ${during.non_ok + during.errors} non-2xx/errors`,
  );
  const shed = storm.statuses["503"] ?? 0;
  figure(
    "logins during storm",
    storm.rps,
    "req/s",
    undefined,
    undefined,
    `${storm.ok} ok, ${shed} shed (503 overloaded), ${storm.non_ok - shed} other non-2xx`,
  );
}

/**
 * Scale: login, /auth/me, refresh and the admin user list with 1k users, then again with S.scaleUsers
 * (1M) users, each seeded with a live session; the figures are the 1M / 1k ratios (goal ≤ 1.2). Each
 * measure is sequential (one request at a time) so it reads the statement cost, not queueing.
 */
async function scale(available, me, admin) {
  if (!available.login || !available.me || !available.refresh) {
    missing("scale", "login, /auth/me or refresh not in this build");
    return;
  }
  const adminToken = (await login(admin.email)).access_token;
  const measure = async (label) => {
    const { access_token } = await login(me.email);
    let chain = (await login(me.email)).refresh_token;
    const count = S.scaleCount;
    const runs = {
      login: await sequential({ count: Math.max(10, Math.round(count / 3)), maxMs: 20_000 }, () =>
        fetch(`${base}/auth/login`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ email: me.email, password: PASSWORD }),
        }),
      ),
      me: await sequential({ count, maxMs: 8_000 }, () =>
        fetch(`${base}/auth/me`, { headers: { Authorization: `Bearer ${access_token}` } }),
      ),
      refresh: await sequential({ count, maxMs: 8_000, warm: 0 }, async () => {
        const res = await fetch(`${base}/auth/refresh`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ refresh_token: chain }),
        });
        const body = await res.clone().json();
        if (res.ok) chain = body.refresh_token;
        return res;
      }),
      "admin user list": await sequential({ count, maxMs: 8_000 }, () =>
        fetch(`${base}/users?limit=50`, { headers: { Authorization: `Bearer ${adminToken}` } }),
      ),
    };
    for (const [name, r] of Object.entries(runs)) {
      raw[`scale ${name} @${label}`] = r;
      progress(`scale ${name} @${label}: p50 ${r.p50_ms} ms (${r.ok} ok, ${r.non_ok} other)`);
    }
    return runs;
  };
  const small = S.scaleSmallUsers;
  progress(`seeding ${small} users (with a session each)`);
  await expectStatus("seed-users", call("POST", `/__bench/seed-users?n=${small}`), 201);
  const atSmall = await measure("1k");
  const bulk = S.scaleUsers - small;
  progress(`seeding ${bulk} more users (with a session each)`);
  const t0 = performance.now();
  await expectStatus("seed-users", call("POST", `/__bench/seed-users?n=${bulk}`), 201);
  const seedS = (performance.now() - t0) / 1000;
  figure(`user seed (${bulk} users + sessions, one D1 batch)`, seedS, "s");
  const big = S.scaleUsers === 1_000_000 ? "1M" : String(S.scaleUsers);
  const atBig = await measure(big);
  for (const name of Object.keys(atSmall)) {
    const ratio = atBig[name].p50_ms / atSmall[name].p50_ms;
    figure(
      `${name} p50 @${big} users`,
      atBig[name].p50_ms,
      "ms",
      ratio,
      `@1k users (${atSmall[name].p50_ms} ms)`,
      `goal ≤ 1.2: ${ratio <= 1.2 ? "met" : "NOT met"}`,
    );
  }
}

async function audit(available, me, admin) {
  const adminToken = available.login && available.audit ? (await login(admin.email)).access_token : null;
  const sources = [{ name: "storage", path: "/__bench/audit", token: null }];
  if (adminToken) sources.push({ name: "GET /audit", path: "/audit", token: adminToken });

  const measure = async (label, scopes) => {
    for (const scope of scopes) {
      const filter = scope.userId ? `&user_id=${scope.userId}` : "";
      const tail = await expectStatus(
        "last-cursor",
        call("GET", `/__bench/audit/last-cursor?limit=${S.pageLimit}${filter}`),
        200,
      );
      for (const source of sources) {
        for (const [page, cursor] of [
          ["first", null],
          ["last", tail.cursor],
        ]) {
          const q = `?limit=${S.pageLimit}${filter}${cursor ? `&cursor=${cursor}` : ""}`;
          const headers = source.token ? { Authorization: `Bearer ${source.token}` } : {};
          const r = await sequential({ count: S.pageCount, maxMs: 4000 }, () =>
            fetch(`${base}${source.path}${q}`, { headers }),
          );
          raw[`audit ${source.name} ${scope.name} ${page} @${label}`] = r;
          progress(
            `audit ${source.name} ${scope.name} ${page} page @${label}: p50 ${r.p50_ms} ms (${r.ok} ok)`,
          );
        }
      }
    }
  };

  progress(`seeding ${S.auditSmallRows} audit rows`);
  await expectStatus(
    "seed-audit",
    call("POST", `/__bench/seed-audit?n=${S.auditSmallRows}&user_id=${me.id}`),
    201,
  );
  await measure("1k", [
    { name: "all users", userId: null },
    { name: "one user", userId: me.id },
  ]);

  const bulk = S.auditRows - S.auditSmallRows;
  const bulkUser = `bench-bulk-${runId}`;
  progress(`seeding ${bulk} more audit rows`);
  const t0 = performance.now();
  await expectStatus("seed-audit", call("POST", `/__bench/seed-audit?n=${bulk}&user_id=${bulkUser}`), 201);
  const seedS = (performance.now() - t0) / 1000;
  raw.audit_seed = { rows: bulk, seconds: round(seedS, 2) };
  await measure(S.auditRows === 1_000_000 ? "1M" : String(S.auditRows), [
    { name: "all users", userId: null },
    { name: "one user", userId: bulkUser },
  ]);

  figure(`audit seed (${bulk} rows, one D1 batch)`, seedS, "s");
  const label = S.auditRows === 1_000_000 ? "1M" : String(S.auditRows);
  for (const source of sources) {
    for (const scope of ["all users", "one user"]) {
      const ref = raw[`audit ${source.name} ${scope} first @1k`];
      for (const [page, at] of [
        ["first", "1k"],
        ["last", "1k"],
        ["first", "1M"],
        ["last", "1M"],
      ]) {
        const at2 = at === "1M" ? label : at;
        const r = raw[`audit ${source.name} ${scope} ${page} @${at2}`];
        figure(
          `audit ${source.name} (${scope}) ${page} page @${at2} rows p50`,
          r.p50_ms,
          "ms",
          r.p50_ms / ref.p50_ms,
          "first page @1k",
          r.non_ok > 0 ? `${r.non_ok} non-2xx` : undefined,
        );
      }
    }
  }
  if (!adminToken) {
    missing(
      "audit GET /audit",
      available.audit ? "POST /auth/login not in this build" : "GET /audit not in this build",
    );
  }
}

async function hotReads(available, me) {
  const common = { connections: S.connections };
  const loads = {
    plain: { ...common, url: `${base}/__bench/plain` },
    "plain-headers": { ...common, url: `${base}/__bench/plain-headers` },
    bare: { ...common, url: `${base}/__bench/bare` },
    // Without a session to read, the reference measures the same statement finding nothing.
    reference: { ...common, url: `${base}/__bench/reference?sid=none` },
  };
  if (available.login && available.me) {
    const { access_token } = await login(me.email);
    // The reference reads the same session (its id is the token's sid claim) as /auth/me does.
    const { sid } = JSON.parse(Buffer.from(access_token.split(".")[1], "base64url").toString());
    loads.reference = { ...common, url: `${base}/__bench/reference?sid=${sid}` };
    loads["pk-reference"] = { ...common, url: `${base}/__bench/pk-reference?uid=${me.id}` };
    loads.me = { ...common, url: `${base}/auth/me`, headers: { Authorization: `Bearer ${access_token}` } };
  }
  progress(`load: ${Object.keys(loads).join(", ")} alternating, ${S.rounds} rounds`);
  const r = await alternate(loads, {
    rounds: S.rounds,
    duration: S.duration,
    warmup: S.warmup,
    onRound: (name, i, x) => progress(`  ${name} round ${i + 1}: ${x.rps} req/s, p50 ${x.p50_ms} ms`),
  });
  Object.assign(raw, r);
  const ref = r.reference;
  for (const name of ["plain", "plain-headers", "bare", "reference", "pk-reference", "me"]) {
    const x = r[name];
    if (!x) {
      missing(
        `${name} req/s`,
        available.me ? "POST /auth/login not in this build" : "GET /auth/me not in this build",
      );
      continue;
    }
    const note = x.non_ok > 0 || x.errors > 0 ? `${x.non_ok} non-2xx, ${x.errors} errors` : undefined;
    figure(`${name} req/s`, x.rps, "req/s", x.rps / ref.rps, "reference", note);
    figure(`${name} p50`, x.p50_ms, "ms", x.p50_ms / ref.p50_ms, "reference");
    figure(`${name} p99`, x.p99_ms, "ms", x.p99_ms / ref.p99_ms, "reference");
  }
  if (r.me) {
    const ratio = r.me.rps / ref.rps;
    figure(
      "me/reference req/s",
      round(ratio, 3),
      "",
      undefined,
      undefined,
      `goal ≥ 0.90: ${ratio >= 0.9 ? "met" : "NOT met"}`,
    );
  }
  if (r.me && r["pk-reference"]) {
    const ratio = r.me.rps / r["pk-reference"].rps;
    figure(
      "me/pk-reference req/s (one primary-key read)",
      round(ratio, 3),
      "",
      undefined,
      undefined,
      `goal ≥ 0.95: ${ratio >= 0.95 ? "met" : "NOT met"}`,
    );
  }
  if (r.plain && r.bare) {
    const ratio = r.bare.rps / r.plain.rps;
    figure(
      "bare/plain req/s (middleware stack vs plain Hono route)",
      round(ratio, 3),
      "",
      undefined,
      undefined,
      `goal ≥ 0.90: ${ratio >= 0.9 ? "met" : "NOT met"}`,
    );
  }
  // What the gap is made of: the same plain route with our response headers and no middleware.
  if (r.plain && r.bare && r["plain-headers"]) {
    figure(
      "plain-headers/plain req/s (carrying our response headers, no middleware)",
      round(r["plain-headers"].rps / r.plain.rps, 3),
      "",
    );
    figure(
      "bare/plain-headers req/s (the middleware itself, same headers both sides)",
      round(r.bare.rps / r["plain-headers"].rps, 3),
      "",
    );
  }
}

async function loginCost(available, me) {
  const post = (path, body) => () =>
    fetch(`${base}${path}`, { method: "POST", headers: { "Content-Type": "application/json" }, body });
  const hashOnly = post("/__bench/hash", JSON.stringify({ password: PASSWORD }));
  if (!available.login) {
    progress(`hash: ${S.loginCount} sequential POST /__bench/hash`);
    const hash = await sequential({ count: S.loginCount, maxMs: 20_000 }, hashOnly);
    raw.hash = hash;
    figure("scrypt alone (POST /__bench/hash) p50", hash.p50_ms, "ms", 1, "scrypt");
    missing("login p50", "POST /auth/login not in this build");
    return hash;
  }
  // Hash, the login reference and login rotate one request at a time, so all three see the same
  // background load; each overhead is the median of the per-round differences to the hash, not a
  // difference of two medians.
  progress(
    `login: ${S.loginCount} rounds of POST /__bench/hash, /__bench/login-reference, /auth/login, one at a time`,
  );
  const credentials = JSON.stringify({ email: me.email, password: PASSWORD });
  const r = await rotatingSequential(
    { count: S.loginCount, maxMs: 60_000 },
    {
      hash: hashOnly,
      reference: post("/__bench/login-reference", credentials),
      login: post("/auth/login", credentials),
    },
  );
  raw.hash = r.hash;
  raw.login_reference = r.reference;
  raw.login = r.login;
  const failed =
    r.login.non_ok > 0
      ? `${r.login.non_ok} failed rounds ${JSON.stringify({ reference: r.reference.statuses, login: r.login.statuses })}`
      : undefined;
  figure("scrypt alone (POST /__bench/hash) p50", r.hash.p50_ms, "ms", 1, "scrypt");
  figure(
    "login reference (POST /__bench/login-reference) p50",
    r.reference.p50_ms,
    "ms",
    r.reference.p50_ms / r.hash.p50_ms,
    "scrypt",
  );
  figure(
    "login (POST /auth/login) p50",
    r.login.p50_ms,
    "ms",
    r.login.p50_ms / r.hash.p50_ms,
    "scrypt",
    failed,
  );
  figure(
    "login reference overhead beyond the hash: its I/O (median of paired differences)",
    r.reference.diff_p50_ms,
    "ms",
  );
  const overhead = r.login.diff_p50_ms;
  figure(
    "login overhead beyond the hash (median of paired differences)",
    overhead,
    "ms",
    overhead !== null && r.reference.diff_p50_ms ? overhead / r.reference.diff_p50_ms : undefined,
    "reference overhead",
    `goal ≤ 5 ms: ${overhead !== null && overhead <= 5 ? "met" : "NOT met"}`,
  );
  return r.hash;
}

/**
 * Passkey sign-in beside password sign-in: the same account, signed in by an assertion instead of a
 * password (no scrypt; one ES256 verification, a challenge and a counter UPDATE, the session write).
 * Each round needs its own challenge, so the options calls and signatures are made before the timed loop
 * and only POST /auth/passkeys/login is timed.
 */
async function passkeyLogin(available, me) {
  if (!available.login || !available.passkeys) {
    missing("passkey sign-in p50", "POST /auth/passkeys/login not in this build");
    return;
  }
  const { access_token } = await login(me.email);
  const authenticator = await SoftwareAuthenticator.create(base);
  const options = await expectStatus(
    "POST /auth/passkeys/register/options",
    call("POST", "/auth/passkeys/register/options", { token: access_token }),
    200,
  );
  await expectStatus(
    "POST /auth/passkeys/register",
    call("POST", "/auth/passkeys/register", {
      token: access_token,
      body: { response: await authenticator.register(options) },
    }),
    201,
  );
  const warm = 2;
  progress(
    `passkey sign-in: ${S.loginCount} sequential POST /auth/passkeys/login (assertions signed beforehand)`,
  );
  const bodies = [];
  for (let i = 0; i < S.loginCount + warm; i++) {
    const request = await expectStatus(
      "POST /auth/passkeys/login/options",
      call("POST", "/auth/passkeys/login/options", { body: {} }),
      200,
    );
    bodies.push(JSON.stringify({ response: await authenticator.assert(request) }));
  }
  const r = await sequential({ count: S.loginCount, maxMs: 60_000, warm }, () =>
    fetch(`${base}/auth/passkeys/login`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: bodies.shift(),
    }),
  );
  raw.passkey_login = r;
  const password = raw.login?.p50_ms;
  figure(
    "passkey sign-in (POST /auth/passkeys/login) p50",
    r.p50_ms,
    "ms",
    password ? r.p50_ms / password : undefined,
    "password login",
    r.non_ok > 0 ? `${r.non_ok} failed ${JSON.stringify(r.statuses)}` : undefined,
  );
}

async function refresh(available, me) {
  if (!available.login || !available.refresh) {
    missing(
      "refresh req/s",
      available.refresh ? "POST /auth/login not in this build" : "POST /auth/refresh not in this build",
    );
    return;
  }
  progress(`refresh: ${S.refreshConnections} sessions (one login each)`);
  const chains = [];
  for (let i = 0; i < S.refreshConnections; i++)
    chains.push({ token: (await login(me.email)).refresh_token });
  // Each connection owns one session and always presents the token its previous refresh returned
  // (rotation).
  let clientNo = 0;
  const setupClient = (client) => {
    const chain = chains[clientNo++ % chains.length];
    client.setRequests([
      {
        method: "POST",
        path: "/auth/refresh",
        headers: { "Content-Type": "application/json" },
        setupRequest: (req) => ({ ...req, body: JSON.stringify({ refresh_token: chain.token }) }),
        onResponse: (status, body) => {
          if (status === 200) chain.token = JSON.parse(body).refresh_token;
        },
      },
    ]);
  };
  progress("load: POST /auth/refresh");
  const r = await load({
    url: base,
    connections: chains.length,
    duration: S.duration,
    warmup: S.warmup,
    setupClient,
  });
  raw.refresh = r;
  progress(`  ${r.rps} req/s`);
  const ref = raw.reference;
  const note = r.non_ok > 0 || r.errors > 0 ? `${r.non_ok} non-2xx, ${r.errors} errors` : undefined;
  figure(
    `refresh req/s (${chains.length} chained sessions)`,
    r.rps,
    "req/s",
    r.rps / ref.rps,
    "reference",
    note,
  );
  figure("refresh p50", r.p50_ms, "ms");
  figure("refresh p99", r.p99_ms, "ms");
}

async function register(available, hash) {
  if (!available.register) {
    missing("register req/s", "POST /auth/register not in this build");
    return;
  }
  let n = 0;
  const setupClient = (client) => {
    client.setRequests([
      {
        method: "POST",
        path: "/auth/register",
        headers: { "Content-Type": "application/json" },
        setupRequest: (req) => ({
          ...req,
          body: JSON.stringify({
            email: `reg-${runId}-${n++}@example.com`,
            password: PASSWORD,
            full_name: "Bench",
          }),
        }),
      },
    ]);
  };
  progress("load: POST /auth/register");
  const r = await load({
    url: base,
    connections: S.slowConnections,
    duration: S.duration,
    warmup: S.warmup,
    setupClient,
  });
  raw.register = r;
  progress(`  ${r.rps} req/s`);
  // workerd runs the isolate on one thread, so one scrypt at a time bounds register throughput.
  const bound = 1000 / hash.p50_ms;
  const wrong = Object.entries(r.statuses).filter(([s]) => s !== "202");
  const note = wrong.length > 0 ? `statuses ${JSON.stringify(r.statuses)}` : undefined;
  figure(
    `register req/s (${S.slowConnections} connections, 202s)`,
    r.rps,
    "req/s",
    r.rps / bound,
    "1/scrypt",
    note,
  );
  figure("register p50", r.p50_ms, "ms", r.p50_ms / hash.p50_ms, "scrypt");
}

// Enumeration by time (issue 14, finding 6): sequential requests for a known and an unknown address,
// interleaved; the medians should match because the lookup and the writes run after the answer.
// Self-contained: needs only `call`, `figure` and one known account.
async function enumerationTiming(me) {
  const rounds = 40;
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  for (const path of ["/auth/password/forgot", "/auth/verify/resend"]) {
    progress(`timing: ${path} known vs unknown (${rounds} each)`);
    const known = [];
    const unknown = [];
    for (let i = 0; i < rounds; i++) {
      for (const [list, email] of [
        [known, me.email],
        [unknown, `nobody-${runId}-${i}@example.com`],
      ]) {
        const t = performance.now();
        const r = await call("POST", path, { body: { email } });
        list.push(performance.now() - t);
        if (r.status !== 202) throw new Error(`${path}: expected 202, got ${r.status}`);
      }
    }
    const k = round(median(known), 2);
    const u = round(median(unknown), 2);
    raw[`timing ${path}`] = { known_p50_ms: k, unknown_p50_ms: u, rounds };
    figure(`${path} p50, known address`, k, "ms", k / u, "unknown address");
  }
}

function eventsContext(extra) {
  return {
    root,
    runId,
    password: PASSWORD,
    count: S.eventsCount,
    overlapMs: S.eventsOverlapMs,
    figure,
    missing,
    progress,
    ...extra,
  };
}

// ---------------------------------------------------------------- main
async function main() {
  const t0 = performance.now();
  const started = new Date();
  const loadAtStart = os.loadavg().map((v) => round(v, 2));
  const stamp = started.toISOString().replace(/[:.]/g, "-");
  // BENCH_STATE_DIR=/dev/shm keeps local D1/KV in memory: then no figure includes the disk's fsync
  // latency, which the local simulator pays on every write and Cloudflare's D1 does not pay that way.
  const stateDir = process.env.BENCH_STATE_DIR
    ? join(process.env.BENCH_STATE_DIR, "edge-auth-bench-state")
    : join(here, ".state");
  rmSync(stateDir, { recursive: true, force: true });
  const persistTo = join(stateDir, stamp);
  mkdirSync(persistTo, { recursive: true });

  const runs = (phase) => S.phases.length === 0 || S.phases.includes(phase);
  if (runs("startup")) coldStart();

  progress(`applying D1 migrations into ${relative(root, persistTo)}`);
  applyMigrations(root, persistTo);

  const [port, inspectorPort] = [await freePort(), await freePort()];
  const adminEmail = `bench-admin-${runId}@example.com`;
  const secretKey = randomBytes(48).toString("base64url");
  const vars = benchVars({ port, secretKey, adminEmail });
  progress(`starting wrangler dev on 127.0.0.1:${port}`);
  const server = await startWrangler({
    root,
    persistTo,
    port,
    inspectorPort,
    vars,
    logFile: join(stateDir, "wrangler.log"),
  });
  const onSignal = () => {
    server.stop().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  base = server.base;
  progress(`wrangler answered /health after ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const available = {};
  try {
    available.bench = (await call("GET", "/__bench/bare")).status === 200;
    if (!available.bench)
      throw new Error(
        "the bench routes do not answer: is wrangler running bench/worker.ts (bench/wrangler.toml)?",
      );
    available.login = await exists("POST", "/auth/login", {});
    available.refresh = await exists("POST", "/auth/refresh", {});
    available.register = await exists("POST", "/auth/register", {});
    available.me = await exists("GET", "/auth/me");
    available.audit = await exists("GET", "/audit");
    available.passkeys = await exists("POST", "/auth/passkeys/login/options", {});
    progress(`endpoints: ${JSON.stringify(available)}`);

    const me = {
      email: `bench-me-${runId}@example.com`,
      ...(await expectStatus(
        "create user",
        call("POST", "/__bench/users", {
          body: { email: `bench-me-${runId}@example.com`, password: PASSWORD, full_name: "Bench Me" },
        }),
        201,
      )),
    };
    const admin = await expectStatus(
      "create admin",
      call("POST", "/__bench/users", { body: { email: adminEmail, password: PASSWORD, role: "admin" } }),
      201,
    );

    if (runs("reads")) await hotReads(available, me);
    if (runs("storm")) await loginStorm(available, me);
    const hash = runs("login") || runs("register") ? await loginCost(available, me) : null;
    if (runs("passkeys")) await passkeyLogin(available, me);
    if (runs("refresh")) await refresh(available, me);
    if (runs("events")) raw.events = await eventsOnD1(eventsContext({ base, userId: me.id }));
    if (runs("register")) await register(available, hash);
    if (runs("enumeration")) await enumerationTiming(me);
    if (runs("scale")) await scale(available, me, admin);
    // Last: the 1M-row audit log would otherwise sit under every write of the phases above.
    if (runs("audit")) await audit(available, me, admin);
  } finally {
    progress("stopping wrangler");
    await server.stop();
  }
  try {
    // After the D1 Worker stopped: its own wrangler dev, on Postgres, with nothing else running.
    if (runs("events")) raw.events_postgres = await eventsOnPostgres(eventsContext({ stateDir, secretKey }));
  } finally {
    if (!process.env.BENCH_KEEP_STATE) rmSync(stateDir, { recursive: true, force: true });
  }

  const seconds = (performance.now() - t0) / 1000;
  figure("total bench wall time", seconds, "s");
  const result = {
    started_at: started.toISOString(),
    seconds: round(seconds, 1),
    machine: {
      node: process.version,
      wrangler: wranglerVersion(root),
      cpus: os.cpus().length,
      cpu_model: os.cpus()[0]?.model ?? null,
      // Other work on the machine skews absolute figures; the side-by-side ratios of one run much less.
      load_average_at_start: loadAtStart,
      platform: `${os.platform()} ${os.release()}`,
      git_commit: gitCommit(),
      dev_vars_present: existsSync(join(root, ".dev.vars")),
    },
    settings: S,
    available,
    figures,
    phases: raw,
  };
  mkdirSync(join(here, "results"), { recursive: true });
  const out = join(here, "results", `${stamp}.json`);
  // Raw latency arrays stay out of the file: percentiles are in it, and a fast machine makes 10^5 samples.
  writeFileSync(out, `${JSON.stringify(result, (k, v) => (k === "latencies" ? undefined : v), 2)}\n`);

  console.log(
    `edge-auth bench — ${started.toISOString()} — node ${process.version}, wrangler ${wranglerVersion(root)}, ` +
      `${os.cpus().length} CPUs, load average at start ${loadAtStart.join(" ")}`,
  );
  for (const f of figures) console.log(line(f));
  console.log(`results: ${relative(root, out)}`);
}

function gitCommit() {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: root, encoding: "utf8" }).trim();
  } catch {
    return null;
  }
}

main().catch((err) => {
  console.error(`bench failed: ${err instanceof Error ? err.stack : String(err)}`);
  process.exit(1);
});
