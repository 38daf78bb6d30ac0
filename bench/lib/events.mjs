// The events phase (issue 19): what the tamper-evident audit chain and the webhook outbox add to a
// sign-in's session write, on D1 (the bench Worker) and, when BENCH_DATABASE_URL is set, on Postgres (a
// second `wrangler dev` of bench/worker.postgres.ts). See bench/README.md, "sign-in write".
import { join } from "node:path";
import { migratePostgres } from "../../scripts/migrate-pg.mjs";
import { rotatingSequential } from "./load.mjs";
import { benchVars, freePort, startWrangler } from "./server.mjs";

/** The bare write first: every other variant's cost is its median paired difference to it. */
const D1_VARIANTS = ["bare", "chained", "outbox", "chained-inline", "outbox-inline"];
// Postgres: chained/outbox read the tail ahead and write plain values (src/storage/postgres/sessions.ts);
// outbox-inline reads nothing ahead, so its write reads the tail and hashes in SQL (the path before).
const PG_VARIANTS = ["bare", "chained", "outbox", "outbox-inline"];

/**
 * `ctx`: { base, userId, count, overlapMs, figure, progress }. Each request waits `overlapMs` (a
 * stand-in for the password hash, the same in every variant) before its write; `chained`/`outbox` read
 * the chain's tail during that wait as login does, the `-inline` ones after it (the old critical path).
 */
async function measure(ctx, variants, { warm = false, count = ctx.count } = {}) {
  const post = (variant) => () =>
    fetch(
      `${ctx.base}/__bench/session-write?variant=${variant}&overlap_ms=${ctx.overlapMs}` +
        `&warm=${warm ? 1 : 0}&user_id=${encodeURIComponent(ctx.userId)}`,
      { method: "POST" },
    );
  // Bounded: at most ~3 minutes whatever the machine's load.
  return rotatingSequential({ count, maxMs: 180_000 }, Object.fromEntries(variants.map((v) => [v, post(v)])));
}

function report(r, { figure }, prefix) {
  const goal = (ms) => `goal ≤ 1 ms: ${ms !== null && ms <= 1 ? "met" : "NOT met"}`;
  figure(`${prefix}sign-in write, bare (session + token history) p50`, r.bare.p50_ms, "ms", 1, "bare write");
  figure(
    `${prefix}sign-in write + chained entry + outbox row p50`,
    r.outbox.p50_ms,
    "ms",
    r.outbox.p50_ms / r.bare.p50_ms,
    "bare write",
  );
  figure(`${prefix}audit chain adds to a sign-in (median paired difference)`, r.chained.diff_p50_ms, "ms");
  figure(
    `${prefix}audit chain + outbox add to a sign-in (median paired difference)`,
    r.outbox.diff_p50_ms,
    "ms",
    undefined,
    undefined,
    goal(r.outbox.diff_p50_ms),
  );
}

/** D1: the sign-in as login does it now (tail read during the hash), and as it did (read in line). */
export async function eventsOnD1(ctx) {
  ctx.progress(
    `events (D1): ${ctx.count} rounds of the sign-in write, ${D1_VARIANTS.join(", ")}; ` +
      `${ctx.overlapMs} ms hash stand-in`,
  );
  const r = await measure(ctx, D1_VARIANTS);
  report(r, ctx, "D1: ");
  ctx.figure(
    "D1, tail read in line (before): audit chain adds (median paired difference)",
    r["chained-inline"].diff_p50_ms,
    "ms",
  );
  ctx.figure(
    "D1, tail read in line (before): audit chain + outbox add (median paired difference)",
    r["outbox-inline"].diff_p50_ms,
    "ms",
    undefined,
    undefined,
    "what the read ahead saves",
  );
  return r;
}

/**
 * Postgres, optional: BENCH_DATABASE_URL names a database the bench may write to (it is migrated
 * first). Unset or unreachable: the figure says so and the run goes on. BENCH_POOLED_DATABASE_URL, also
 * optional, reaches the same database through a pooler in transaction mode (e.g. a local pgbouncer), so
 * requests get warm backends as behind Hyperdrive; unset, that row says "not measured".
 */
export async function eventsOnPostgres(ctx) {
  const name = "Postgres: audit chain + outbox add to a sign-in";
  const url = process.env.BENCH_DATABASE_URL;
  if (!url) return ctx.missing(name, "not measured: BENCH_DATABASE_URL unset");
  try {
    await migratePostgres(url);
  } catch (err) {
    return ctx.missing(name, `not measured: Postgres unreachable (${err?.code ?? err?.message ?? err})`);
  }
  const half = Math.max(10, Math.round(ctx.count / 2));
  // Each request of the Worker opens its own connection, i.e. a fresh backend, which loads the catalog
  // entries of the tables it touches and resolves every function and operator of its SQL on first use.
  // `warm` touches the chain's tables first in the same request, to tell the catalog from the rest.
  const direct = await onWorker(ctx, url, "direct", async (pg) => {
    ctx.progress(`events (Postgres): ${half} rounds each, fresh and warm backend, ${PG_VARIANTS.join(", ")}`);
    const fresh = await measure(pg, PG_VARIANTS, { count: half });
    reportPg(fresh, ctx, "Postgres, fresh backend per request: ");
    const warm = await measure(pg, PG_VARIANTS, { count: half, warm: true });
    reportPg(warm, ctx, "Postgres, warm backend: ");
    return { fresh, warm };
  });
  const pooledUrl = process.env.BENCH_POOLED_DATABASE_URL;
  if (!pooledUrl) {
    ctx.missing(
      "Postgres through a pooler: audit chain + outbox add to a sign-in",
      "not measured: BENCH_POOLED_DATABASE_URL unset (a pooler in transaction mode in front of BENCH_DATABASE_URL)",
    );
    return direct;
  }
  const pooled = await onWorker(ctx, pooledUrl, "pooled", async (pg) => {
    ctx.progress(`events (Postgres through the pooler): ${half} rounds, ${PG_VARIANTS.join(", ")}`);
    const r = await measure(pg, PG_VARIANTS, { count: half });
    reportPg(r, ctx, "Postgres through a pooler (warm backends): ");
    return r;
  });
  return { ...direct, pooled };
}

/** The figures of one Postgres run, with the in-SQL hash (the path before) next to the read ahead. */
function reportPg(r, ctx, prefix) {
  report(r, ctx, prefix);
  ctx.figure(
    `${prefix}before (tail read and hash in SQL): audit chain + outbox add (median paired difference)`,
    r["outbox-inline"].diff_p50_ms,
    "ms",
  );
}

/** A `wrangler dev` of the Postgres bench Worker on `url`, a user of its own, then `run` against it. */
async function onWorker(ctx, url, label, run) {
  const [port, inspectorPort] = [await freePort(), await freePort()];
  const vars = { ...benchVars({ port, secretKey: ctx.secretKey, adminEmail: "" }), DATABASE_URL: url };
  ctx.progress(
    `events (Postgres, ${label}): starting wrangler dev (bench/wrangler.postgres.toml) on 127.0.0.1:${port}`,
  );
  const server = await startWrangler({
    root: ctx.root,
    persistTo: join(ctx.stateDir, `postgres-${label}`),
    port,
    inspectorPort,
    vars,
    logFile: join(ctx.stateDir, `wrangler-postgres-${label}.log`),
    config: join("bench", "wrangler.postgres.toml"),
  });
  try {
    const res = await fetch(`${server.base}/__bench/users`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email: `bench-pg-${label}-${ctx.runId}@example.com`, password: ctx.password }),
    });
    if (res.status !== 201) throw new Error(`create user on Postgres: ${res.status} ${await res.text()}`);
    const user = await res.json();
    return await run({ ...ctx, base: server.base, userId: user.id });
  } finally {
    await server.stop();
  }
}
