import { defineConfig } from "drizzle-kit";

// D1 (SQLite) schema; `npm run db:generate` writes migrations/ which wrangler applies.
export default defineConfig({
  dialect: "sqlite",
  schema: "./src/storage/d1/schema.ts",
  out: "./migrations",
});
