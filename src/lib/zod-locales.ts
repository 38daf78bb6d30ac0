/**
 * Stands in for zod's locale index (node_modules/zod/v4/locales/index.js) in the Worker bundle, through
 * the `[alias]` of wrangler.toml. zod re-exports all ~50 locales as `z.locales` (and `z.core.locales`), and
 * @hono/zod-openapi passes the `z` namespace to extendZodWithOpenApi as a value, so esbuild cannot drop
 * them: ~370 KiB raw, ~42 KiB gzip of messages the service never shows. Its errors are English (zod sets
 * `en` as the default itself, from locales/en.js, which this does not touch); English stays reachable as
 * `z.locales.en` for anything that asks by name.
 */
export { default as en } from "zod/v4/locales/en.js";
