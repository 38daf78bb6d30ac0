// `npm run dev`: check the configuration, apply local D1 migrations, then start `wrangler dev`.
// Works on a fresh clone with no .dev.vars (development defaults, with a loud warning).
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
process.chdir(root);

function run(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: "inherit", shell: false });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

function parseDotenv(text) {
  const out = {};
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)\s*$/.exec(line);
    if (!m) continue;
    let v = m[2];
    if ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))) v = v.slice(1, -1);
    out[m[1]] = v;
  }
  return out;
}

function wranglerVars() {
  // The [vars] table of wrangler.toml: simple `KEY = "value"` lines are enough for the check.
  const toml = readFileSync("wrangler.toml", "utf8");
  const section = /\[vars\]([\s\S]*?)(\n\[|$)/.exec(toml)?.[1] ?? "";
  return parseDotenv(section);
}

run(process.execPath, ["scripts/copy-assets.mjs"]);

// wrangler.toml describes production; a laptop runs as development unless .dev.vars says otherwise.
const vars = {
  ...wranglerVars(),
  ENVIRONMENT: "development",
  ...(existsSync(".dev.vars") ? parseDotenv(readFileSync(".dev.vars", "utf8")) : {}),
};
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
run(wrangler, ["dev", "--var", `ENVIRONMENT:${vars.ENVIRONMENT}`, ...process.argv.slice(2)]);
