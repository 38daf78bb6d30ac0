// `npm run check:bundle`: builds the production Worker exactly as `npm run build` does (wrangler deploy
// --dry-run, into a temporary directory) and fails if anything bench-only reached the bundle, or if the
// bench Worker's runtime settings drifted from the service's. Run by .ci/run; takes a few seconds.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
// Strings that only bench code contains: its route prefix and its bulk-insert marker.
const FORBIDDEN = ["/__bench", "edge-auth-bench"];
// The default (D1/KV) entry reaches the Postgres and Redis drivers only through src/storage/drivers.ts,
// which src/index.postgres.ts fills: esbuild's comments name every bundled module, so a stray import
// that drags them back in shows here.
const DRIVERS = ["// node_modules/pg/", "// node_modules/@redis/", "// node_modules/redis/"];
// The common-password list is a static asset (public/vendor/zxcvbn-ts, read through env.ASSETS): it must
// not come back into the bundle, neither as zxcvbn-ts' module (compressed) nor as a plain word list.
const PASSWORD_LIST = ["@zxcvbn-ts/language-common", "ApasswordA12345678", "password1\npassword12"];
const PASSWORD_ASSET = join(root, "public", "vendor", "zxcvbn-ts", "common-passwords.txt");
const PASSWORD_HEADER = "# edge-auth common passwords v1 ";
// wrangler.toml's [alias] answers zod's "../locales/index.js" with English only (src/lib/zod-locales.ts).
// wrangler matches the import path exactly, whoever imports it: the stub must be in, no other zod locale
// may be, and no bundled module outside zod may import that path (it would get the stub too).
const LOCALE_INDEX = "../locales/index.js";
const LOCALE_STUB = "src/lib/zod-locales.ts";
const LOCALES_ALLOWED = new Set(["node_modules/zod/v4/locales/en.js"]);

/** The bundled modules, by the path comment esbuild writes before each (relative to the project). */
function bundledModules(text) {
  return [...text.matchAll(/^\/\/ ((?:node_modules|src)\/\S+)$/gm)].map((m) => m[1]);
}

function checkLocales(file, text) {
  const modules = bundledModules(text);
  if (!modules.includes(LOCALE_STUB)) problems.push(`${file}: the zod locale alias did not apply`);
  for (const m of modules) {
    if (m.startsWith("node_modules/zod/v4/locales/") && !LOCALES_ALLOWED.has(m)) {
      problems.push(`${file} bundles a zod locale besides English (${m})`);
    }
    if (m.startsWith("node_modules/zod/") || !/\.[cm]?[jt]s$/.test(m)) continue;
    let source = "";
    try {
      source = readFileSync(join(root, m), "utf8");
    } catch {
      continue;
    }
    if (source.includes(`"${LOCALE_INDEX}"`) || source.includes(`'${LOCALE_INDEX}'`)) {
      problems.push(`${m} imports "${LOCALE_INDEX}", which wrangler.toml's [alias] replaces with zod's stub`);
    }
  }
}

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

/** The value of a top-level `key = ...` line of a wrangler.toml (enough for the two keys compared). */
function topLevel(toml, key) {
  const head = toml.split(/^\[/m)[0];
  return head.match(new RegExp(`^${key}\\s*=\\s*(.+)$`, "m"))?.[1]?.trim() ?? null;
}

const problems = [];
const out = mkdtempSync(join(tmpdir(), "edge-auth-bundle-"));
try {
  const build = spawnSync(
    join(root, "node_modules", ".bin", "wrangler"),
    // [env.production]: what npm run deploy ships (the top level of wrangler.toml is local development).
    ["deploy", "--dry-run", "--env", "production", "--outdir", out],
    {
      cwd: root,
      encoding: "utf8",
      env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" },
    },
  );
  if (build.status !== 0) {
    console.error(build.stdout, build.stderr);
    problems.push(`wrangler deploy --dry-run failed (${build.status})`);
  } else {
    const bundle = files(out).filter((f) => /\.(m?js|map)$/.test(f));
    if (bundle.length === 0) problems.push("the dry run wrote no JavaScript");
    for (const file of bundle) {
      const text = readFileSync(file, "utf8");
      for (const s of FORBIDDEN) if (text.includes(s)) problems.push(`${file} contains "${s}"`);
      for (const s of PASSWORD_LIST) {
        if (text.includes(s))
          problems.push(`${file} bundles the common-password list (${JSON.stringify(s)})`);
      }
      if (file.endsWith(".js")) {
        for (const s of DRIVERS) if (text.includes(s)) problems.push(`${file} bundles a driver ("${s}")`);
        checkLocales(file, text);
      }
    }
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}

// Without the asset every registration would answer 500 misconfigured (fail closed), so a build without
// it must not ship: scripts/copy-assets.mjs (postinstall, npm run deploy) writes it.
try {
  const lines = readFileSync(PASSWORD_ASSET, "utf8").split("\n");
  const count = lines[0]?.startsWith(PASSWORD_HEADER) ? Number(lines[0].slice(PASSWORD_HEADER.length)) : 0;
  const words = new Set(lines.slice(1).filter((l) => l !== ""));
  if (!(count > 0 && words.size === count && words.has("password"))) {
    problems.push(`${PASSWORD_ASSET} is not the complete list; run node scripts/copy-assets.mjs`);
  }
} catch {
  problems.push(`${PASSWORD_ASSET} is missing; run node scripts/copy-assets.mjs`);
}

const service = readFileSync(join(root, "wrangler.toml"), "utf8");
const bench = readFileSync(join(root, "bench", "wrangler.toml"), "utf8");
for (const key of ["compatibility_date", "compatibility_flags"]) {
  if (topLevel(service, key) !== topLevel(bench, key)) {
    problems.push(
      `bench/wrangler.toml ${key} differs from wrangler.toml: the bench would measure another runtime`,
    );
  }
}

// The package's other entry points (package.json "exports") ship into browsers and other Workers: they
// must bundle without any server module (the client imports the server's schemas as types only).
const ENTRIES = {
  "edge-auth/client": { entry: "src/client/index.ts", allowed: /^(src\/client\/|node_modules\/)/ },
  "edge-auth/verify": {
    entry: "src/verify/index.ts",
    allowed: /^(src\/verify\/|node_modules\/(jose|hono)\/)/,
  },
};
const sizes = [];
for (const [name, { entry, allowed }] of Object.entries(ENTRIES)) {
  const result = await build({
    entryPoints: [join(root, entry)],
    absWorkingDir: root,
    bundle: true,
    minify: true,
    format: "esm",
    platform: "browser",
    // Peer imports of the Worker using the middleware; not part of what it adds.
    external: name === "edge-auth/verify" ? ["hono", "hono/*"] : [],
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  for (const input of Object.keys(result.metafile.inputs)) {
    if (!allowed.test(input)) problems.push(`${name} bundles ${input}`);
  }
  const code = result.outputFiles[0].contents;
  sizes.push(
    `${name} ${(code.length / 1024).toFixed(1)} KiB (gzip ${(gzipSync(code).length / 1024).toFixed(1)} KiB)`,
  );
}

if (problems.length > 0) {
  console.error(`check:bundle failed:\n- ${problems.join("\n- ")}`);
  process.exit(1);
}
console.log(
  "check:bundle: the production bundle has no bench code, no Postgres/Redis driver and no common-password list (the asset is complete), no zod locale but English; bench runtime matches the service",
);
console.log(`check:bundle: ${sizes.join("; ")}: no server code`);
