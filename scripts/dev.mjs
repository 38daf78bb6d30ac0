// `npm run dev`: check the configuration, apply local D1 migrations, then start `wrangler dev`.
// Works on a fresh clone with no .dev.vars (development defaults, with a loud warning).
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { devSettings, parseDevVars } from "./dev-vars.mjs";
import { migratePostgres } from "./migrate-pg.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
process.chdir(root);

function run(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: "inherit", shell: false });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

function wranglerVars() {
  // The top-level [vars] table of wrangler.toml (the development configuration): plain `KEY = "value"`
  // lines, which the dotenv parser reads as well.
  const toml = readFileSync("wrangler.toml", "utf8");
  const section = /\n\[vars\]([\s\S]*?)(\n\[|$)/.exec(toml)?.[1] ?? "";
  return parseDevVars(section);
}

run(process.execPath, ["scripts/copy-assets.mjs"]);

const args = process.argv.slice(2);
const devVars = existsSync(".dev.vars") ? parseDevVars(readFileSync(".dev.vars", "utf8")) : {};
// Development unless .dev.vars says otherwise; APP_URL follows --port unless .dev.vars sets it.
const vars = devSettings(wranglerVars(), devVars, args);
const { parseConfig, ConfigError } = await import("../src/config.ts");
try {
  const cfg = parseConfig(vars);
  if (cfg.usingDevelopmentSecret) {
    console.warn(
      "\n\x1b[41m\x1b[97m WARNING \x1b[0m SECRET_KEY is not set: using the built-in development secret.\n" +
        "          Fine on your laptop; never deploy like this (copy .dev.vars.example to .dev.vars).\n",
    );
  }
} catch (err) {
  if (err instanceof ConfigError) {
    console.error("\nedge-auth: invalid configuration:");
    for (const p of err.problems) console.error(`  - ${p}`);
    console.error("Fix .dev.vars (see .dev.vars.example) and run `npm run dev` again.\n");
    process.exit(1);
  }
  throw err;
}

const wrangler = join(root, "node_modules", ".bin", "wrangler");
run(wrangler, ["d1", "migrations", "apply", "DB", "--local"]);
if (vars.DATABASE_URL?.trim()) {
  // Postgres selected: bring it to the current schema too, or every request would answer 503.
  const target = new URL(vars.DATABASE_URL);
  try {
    await migratePostgres(vars.DATABASE_URL);
    console.log(`edge-auth: Postgres ${target.host}${target.pathname} is migrated`);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    console.error(`\nedge-auth: could not migrate Postgres at ${target.host}${target.pathname}: ${reason}\n`);
    process.exit(1);
  }
}
run(wrangler, [
  "dev",
  // Postgres or Redis need the entry that carries their drivers (src/storage/drivers.ts).
  ...(vars.DATABASE_URL?.trim() || vars.REDIS_URL?.trim() ? ["src/index.postgres.ts"] : []),
  "--var",
  `ENVIRONMENT:${vars.ENVIRONMENT}`,
  "--var",
  `APP_URL:${vars.APP_URL}`,
  ...args,
]);
