import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import committed from "../docs/openapi.json";
import { createApp } from "../src/app";

// The document does not depend on the backend, so this runs in the D1 project only.
describe("docs/openapi.json", () => {
  it("is exactly what the service serves at /openapi.json", async () => {
    const res = await createApp().request("https://auth.example.test/openapi.json", undefined, env);
    expect(res.status).toBe(200);
    const served = await res.json();
    expect(
      served,
      "docs/openapi.json is out of date: run `npm run openapi` and commit docs/openapi.json",
    ).toEqual(committed);
  });

  it("documents the routes a reader needs, and no bench route", () => {
    const paths = Object.keys(committed.paths);
    for (const path of ["/auth/login", "/auth/refresh", "/auth/me", "/audit", "/users/{user_id}/logs"]) {
      expect(paths).toContain(path);
    }
    expect(paths.filter((p) => p.startsWith("/__bench"))).toEqual([]);
  });
});
