// How `npm run dev` reads .dev.vars and picks its defaults. Kept apart from scripts/dev.mjs so the tests
// can pin the rules (test/operations/dev-launcher.test.ts).
import dotenv from "dotenv";

/**
 * .dev.vars parsed exactly as wrangler parses it: wrangler uses the `dotenv` package (same version pinned
 * in devDependencies), which accepts `export KEY=...`, inline `# comments`, quotes and multi-line values.
 * @param {string} text
 * @returns {Record<string, string>}
 */
export function parseDevVars(text) {
  return dotenv.parse(text);
}

/**
 * The port `wrangler dev` will listen on, from its own arguments (`--port 8811` or `--port=8811`).
 * @param {string[]} args
 */
export function portOf(args) {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--port" || a === "-p") return Number(args[i + 1]);
    if (a.startsWith("--port=")) return Number(a.slice("--port=".length));
  }
  return 8787;
}

/**
 * The settings `npm run dev` starts wrangler with: development unless .dev.vars says otherwise, and an
 * APP_URL that matches the port when .dev.vars does not set one (so email links are clickable).
 * @param {Record<string, string>} tomlVars top-level [vars] of wrangler.toml
 * @param {Record<string, string>} devVars parsed .dev.vars
 * @param {string[]} args arguments passed on to wrangler dev
 */
export function devSettings(tomlVars, devVars, args) {
  const appUrl = devVars.APP_URL?.trim() ? devVars.APP_URL : `http://localhost:${portOf(args)}`;
  return { ...tomlVars, ENVIRONMENT: "development", ...devVars, APP_URL: appUrl };
}
