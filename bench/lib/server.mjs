// Starts and stops `wrangler dev` for one bench run: its own loopback port, its own fresh persist dir.
import { spawn, spawnSync } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// Nothing in a bench run may reach past loopback: miniflare otherwise fetches a `Request.cf` sample.
const WRANGLER_ENV = {
  ...process.env,
  CI: "true",
  WRANGLER_SEND_METRICS: "false",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  NO_COLOR: "1",
};

/**
 * The bench Worker's own config: the production app plus the /__bench/* routes (bench/worker.ts). The
 * root wrangler.toml (what `npm run build`/`deploy` bundle) never sees those routes.
 */
export const BENCH_CONFIG = join("bench", "wrangler.toml");

/** `wrangler d1 migrations apply DB --local` into the run's own persist dir. */
export function applyMigrations(root, persistTo) {
  const r = spawnSync(
    join(root, "node_modules", ".bin", "wrangler"),
    ["d1", "migrations", "apply", "DB", "--local", "--persist-to", persistTo, "--config", BENCH_CONFIG],
    { cwd: root, env: WRANGLER_ENV, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
  );
  if (r.status !== 0) {
    throw new Error(`wrangler d1 migrations apply failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  }
}

/**
 * Settings pinned with --var so a developer's .dev.vars cannot change what is measured (a
 * DATABASE_URL there would otherwise switch the run to Postgres). Empty means "unset" (src/config.ts).
 */
export function benchVars({ port, secretKey, adminEmail }) {
  return {
    // The bench routes come from the bench entry, not from a setting: no ENVIRONMENT turns them on.
    ENVIRONMENT: "development",
    SECRET_KEY: secretKey,
    RATE_LIMIT_ENABLED: "false",
    ALGORITHM: "HS256",
    EMAIL_TRANSPORT: "console",
    APP_URL: `http://127.0.0.1:${port}`,
    ADMIN_EMAILS: adminEmail,
    DATABASE_URL: "",
    REDIS_URL: "",
  };
}

/** `config`: the bench Worker unless a caller (scripts/openapi.mjs) asks for the service's own. */
export async function startWrangler({
  root,
  persistTo,
  port,
  inspectorPort,
  vars,
  logFile,
  config = BENCH_CONFIG,
  /** Another entry than the config's `main` (bench/worker.postgres.ts for the Postgres figures). */
  script,
}) {
  const args = [
    "dev",
    ...(script ? [script] : []),
    "--config",
    config,
    "--local",
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    "--inspector-port",
    String(inspectorPort),
    "--persist-to",
    persistTo,
    "--log-level",
    "warn",
    "--show-interactive-dev-session=false",
  ];
  for (const [k, v] of Object.entries(vars)) args.push("--var", `${k}:${v}`);
  const log = openSync(logFile, "a");
  // Own process group, so stop() ends wrangler and the workerd it spawned, and nothing else.
  const child = spawn(join(root, "node_modules", ".bin", "wrangler"), args, {
    cwd: root,
    env: WRANGLER_ENV,
    stdio: ["ignore", log, log],
    detached: true,
  });
  closeSync(log);
  let exited = null;
  const exitPromise = new Promise((resolve) => {
    child.once("exit", (code, signal) => {
      exited = { code, signal };
      resolve(exited);
    });
  });

  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (exited) {
      throw new Error(`wrangler dev exited early (${JSON.stringify(exited)}):\n${tail(logFile)}`);
    }
    try {
      const res = await fetch(`${base}/health`, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) {
        await res.arrayBuffer();
        break;
      }
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`wrangler dev did not answer /health within 90 s:\n${tail(logFile)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }

  async function stop() {
    if (exited) return;
    const signalGroup = (sig) => {
      try {
        process.kill(-child.pid, sig);
      } catch {
        // already gone
      }
    };
    signalGroup("SIGTERM");
    const timer = setTimeout(() => signalGroup("SIGKILL"), 5000);
    await exitPromise;
    clearTimeout(timer);
    // workerd may outlive the wrangler parent by a moment; the group kill above reached it too.
    signalGroup("SIGKILL");
  }

  return { base, stop, pid: child.pid };
}

function tail(file, lines = 40) {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

export function wranglerVersion(root) {
  try {
    return JSON.parse(readFileSync(join(root, "node_modules", "wrangler", "package.json"), "utf8")).version;
  } catch {
    return null;
  }
}
