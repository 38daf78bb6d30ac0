// `npm run openapi`: writes docs/openapi.json, the OpenAPI document the service serves at /openapi.json.
// Starts the production Worker (wrangler.toml, not the bench one) under `wrangler dev` on a free loopback
// port with a throwaway local state, fetches the document, stops it. test/openapi-doc.d1.test.ts fails
// when the committed file differs from what the app serves: run this after changing a route.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { applyMigrations, freePort, startWrangler } from "../bench/lib/server.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const target = join(root, "docs", "openapi.json");
const state = mkdtempSync(join(tmpdir(), "edge-auth-openapi-"));

// /health (what startWrangler waits for) is 503 "migrations pending" on an empty database. The bench
// config's DB has the same placeholder id and migrations folder, so this migrates the same local store.
applyMigrations(root, join(state, "state"));
const port = await freePort();
const server = await startWrangler({
  root,
  config: "wrangler.toml",
  persistTo: join(state, "state"),
  port,
  inspectorPort: await freePort(),
  logFile: join(state, "wrangler.log"),
  // Pinned so a developer's .dev.vars (Postgres, OAuth ids) cannot change what is generated.
  vars: {
    ENVIRONMENT: "development",
    SECRET_KEY: randomBytes(48).toString("base64url"),
    EMAIL_TRANSPORT: "console",
    APP_URL: `http://127.0.0.1:${port}`,
    DATABASE_URL: "",
    REDIS_URL: "",
  },
});
try {
  const res = await fetch(`${server.base}/openapi.json`);
  if (res.status !== 200) throw new Error(`GET /openapi.json answered ${res.status}`);
  const doc = await res.json();
  writeFileSync(target, `${JSON.stringify(doc, null, 2)}\n`);
  console.log(`wrote docs/openapi.json (${Object.keys(doc.paths).length} paths)`);
} finally {
  await server.stop();
  rmSync(state, { recursive: true, force: true });
}
