import { defineConfig } from "drizzle-kit";

// Postgres schema (DATABASE_URL / Hyperdrive); `npm run db:generate:pg` writes migrations/postgres/,
// which `npm run db:migrate:pg` (scripts/migrate-pg.mjs) applies. Kept apart from the D1 config because
// the dialects differ.
export default defineConfig({
  dialect: "postgresql",
  schema: "./src/storage/postgres/schema.ts",
  out: "./migrations/postgres",
});
