// Copies Swagger UI from swagger-ui-dist into public/vendor so /docs works without a CDN.
// Runs on `npm install` (postinstall) and before dev/deploy.
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);
let dist;
try {
  dist = dirname(require.resolve("swagger-ui-dist/package.json"));
} catch {
  console.warn("swagger-ui-dist is not installed; /docs will load without its assets");
  process.exit(0);
}
const out = join(root, "public", "vendor", "swagger-ui");
mkdirSync(out, { recursive: true });
for (const file of ["swagger-ui-bundle.js", "swagger-ui.css"]) {
  const from = join(dist, file);
  if (existsSync(from)) copyFileSync(from, join(out, file));
}
