import { describe, expect, it } from "vitest";
import { testClient } from "../helpers";

const APP = "https://app.example.com";
const corsHeaders = (h: Headers) => [...h.keys()].filter((k) => k.startsWith("access-control-"));

describe("CORS", () => {
  it("is off when CORS_ORIGINS is empty", async () => {
    const client = testClient();
    const res = await client.call("GET", "/health", { headers: { Origin: APP } });
    expect(corsHeaders(res.headers)).toEqual([]);
    const preflight = await client.call("OPTIONS", "/auth/login", {
      headers: { Origin: APP, "Access-Control-Request-Method": "POST" },
    });
    expect(corsHeaders(preflight.headers)).toEqual([]);
  });

  it("echoes an exact listed origin, never * and never credentials", async () => {
    const client = testClient({}, { CORS_ORIGINS: `${APP}, https://admin.example.com` });
    const res = await client.call("GET", "/health", { headers: { Origin: APP } });
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe(APP);
    expect(res.headers.get("Access-Control-Allow-Credentials")).toBeNull();
    expect(res.headers.get("Vary")).toContain("Origin");

    // Problem responses carry it too, so the client can read the error.
    const problem = await client.call("GET", "/auth/me", { headers: { Origin: APP } });
    expect(problem.status).toBe(401);
    expect(problem.headers.get("Access-Control-Allow-Origin")).toBe(APP);
  });

  it("answers a preflight from an allowed origin with methods and headers", async () => {
    const client = testClient({}, { CORS_ORIGINS: APP });
    const res = await client.call("OPTIONS", "/auth/login", {
      headers: {
        Origin: APP,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe(APP);
    expect(res.headers.get("Access-Control-Allow-Methods")).toContain("POST");
    const allowHeaders = (res.headers.get("Access-Control-Allow-Headers") ?? "").toLowerCase();
    expect(allowHeaders).toContain("authorization");
    expect(allowHeaders).toContain("content-type");
    expect(res.headers.get("Access-Control-Allow-Credentials")).toBeNull();
  });

  it("gives other origins, look-alikes and Origin: null no CORS headers at all", async () => {
    const client = testClient({}, { CORS_ORIGINS: `${APP},null` });
    for (const origin of ["https://evil.example.com", `${APP}.evil.com`, "http://app.example.com", "null"]) {
      const res = await client.call("GET", "/health", { headers: { Origin: origin } });
      expect(corsHeaders(res.headers), origin).toEqual([]);
      expect(res.headers.get("Vary"), origin).toContain("Origin");
      const preflight = await client.call("OPTIONS", "/auth/login", {
        headers: { Origin: origin, "Access-Control-Request-Method": "POST" },
      });
      expect(corsHeaders(preflight.headers), origin).toEqual([]);
      expect(preflight.status).not.toBe(204);
    }
  });
});
