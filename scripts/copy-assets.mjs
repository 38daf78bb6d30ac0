// Copies browser assets from node_modules into public/vendor, so /docs and the hosted pages work
// without a CDN: Swagger UI (swagger-ui-dist) and the WebAuthn helper (@simplewebauthn/browser).
// Runs on `npm install` (postinstall) and before dev/deploy.
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);

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
