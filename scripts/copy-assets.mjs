// Copies assets from node_modules into public/vendor, so /docs and the hosted pages work without a CDN
// (Swagger UI from swagger-ui-dist, the WebAuthn helper from @simplewebauthn/browser), and writes the
// common-password list the Worker reads through env.ASSETS. Runs on `npm install` (postinstall) and
// before dev/deploy.
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);
// The first line of public/vendor/zxcvbn-ts/common-passwords.txt, followed by the count; must match
// PASSWORD_LIST_HEADER in src/auth/password-policy.ts.
const PASSWORD_LIST_HEADER = "# edge-auth common passwords v1";

/** Copies `files` ([from, to] relative to the package and to public/vendor/<dir>) of one package. */
function vendor(pkg, dir, files, missing) {
  let dist;
  try {
    dist = dirname(require.resolve(`${pkg}/package.json`));
  } catch {
    // A package whose "exports" hides package.json: its folder is still where npm put it.
    dist = join(root, "node_modules", pkg);
    if (!existsSync(join(dist, "package.json"))) {
      console.warn(`${pkg} is not installed; ${missing}`);
      return;
    }
  }
  const out = join(root, "public", "vendor", dir);
  mkdirSync(out, { recursive: true });
  for (const [from, to] of files) {
    const source = join(dist, from);
    if (existsSync(source)) copyFileSync(source, join(out, to));
  }
}

vendor(
  "swagger-ui-dist",
  "swagger-ui",
  [
    ["swagger-ui-bundle.js", "swagger-ui-bundle.js"],
    ["swagger-ui.css", "swagger-ui.css"],
  ],
  "/docs will load without its assets",
);
// The UMD bundle (one file, global SimpleWebAuthnBrowser): the pages load it with their CSP nonce.
vendor(
  "@simplewebauthn/browser",
  "simplewebauthn",
  [["dist/bundle/index.umd.min.js", "browser.umd.min.js"]],
  "the hosted pages will offer no passkeys",
);

// The common-password blocklist (src/auth/password-policy.ts): ~49,000 leaked passwords from
// @zxcvbn-ts/language-common, ~200 KiB of gzip that used to sit in the Worker bundle (parsed at every cold
// start's upload, decompressed on first use). It is public data, so it lives with the other static assets
// and the Worker reads it through env.ASSETS on its first password check. Lowercased (the check is
// case-insensitive), de-duplicated and sorted, one a line, under a header with the count: the Worker
// refuses a file whose count does not match (a truncated or foreign file), rather than check against less.
async function commonPasswords() {
  let list;
  try {
    ({ default: list } = await import("@zxcvbn-ts/language-common/dist/passwords.json.mjs"));
  } catch {
    console.warn(
      "@zxcvbn-ts/language-common is not installed; password checks will answer 500 misconfigured",
    );
    return;
  }
  const words = [...new Set(list.map((p) => p.toLowerCase()))].filter((p) => p && !/[\r\n]/.test(p));
  words.sort();
  const out = join(root, "public", "vendor", "zxcvbn-ts");
  mkdirSync(out, { recursive: true });
  writeFileSync(
    join(out, "common-passwords.txt"),
    `${PASSWORD_LIST_HEADER} ${words.length}\n${words.join("\n")}\n`,
  );
}
await commonPasswords();
