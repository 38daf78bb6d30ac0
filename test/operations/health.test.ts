// Both backends: /health reports the schema version the code expects and the one the database has.
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { SCHEMA_VERSION } from "../../src/health";
import { BASE } from "../helpers";

describe("/health schema version", () => {
  it("expects exactly the migrations in migrations/ and finds them applied", async () => {
    // Adding a migration without bumping SCHEMA_VERSION fails here (D1 and Postgres folders are in step).
    expect(SCHEMA_VERSION).toBe(env.TEST_MIGRATIONS.length);
    const res = await exports.default.fetch(new Request(`${BASE}/health`));
    expect(res.status).toBe(200);
    const body = await res.json<Record<string, unknown>>();
    expect(body).toMatchObject({ status: "ok", schema: { expected: SCHEMA_VERSION, found: SCHEMA_VERSION } });
    expect(body.detail).toBeUndefined();
  });
});
