import { describe, expect, it } from "vitest";
import type { ApiResponse } from "../helpers";
import { createVerifiedUser, testClient, uniqueEmail } from "../helpers";

/** Only meaningful for a rendered document: on HTML and other non-JSON answers, never on JSON. */
const DOCUMENT_ONLY = [
  ["Cross-Origin-Opener-Policy", "same-origin"],
  ["Origin-Agent-Cluster", "?1"],
  ["X-DNS-Prefetch-Control", "off"],
  ["X-Download-Options", "noopen"],
  ["X-Permitted-Cross-Domain-Policies", "none"],
  ["X-XSS-Protection", "0"],
] as const;

function expectDocumentHeaders(res: ApiResponse, present: boolean): void {
  for (const [name, value] of DOCUMENT_ONLY) {
    expect(res.headers.get(name), name).toBe(present ? value : null);
  }
}

function expectSecurityHeaders(res: ApiResponse): void {
  expect(res.headers.get("Cross-Origin-Resource-Policy")).toBe("same-origin");
  const hsts = res.headers.get("Strict-Transport-Security") ?? "";
  expect(Number(/max-age=(\d+)/.exec(hsts)?.[1])).toBeGreaterThanOrEqual(31_536_000);
  expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
  expect(res.headers.get("Referrer-Policy")).toBe("no-referrer");
  expect(res.headers.get("X-Frame-Options")).toBe("DENY");
  expect(res.headers.get("Content-Security-Policy")).toContain("frame-ancestors 'none'");
  expect(res.headers.get("X-Request-Id")).toBeTruthy();
}

describe("security headers", () => {
  it("JSON responses: charset=utf-8 and no-store on /auth/*", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const me = await client.call("GET", "/auth/me", { token: user.tokens.access_token });
    const accepted = await client.call("POST", "/auth/password/forgot", { json: { email: uniqueEmail() } });
    const health = await client.call("GET", "/health");
    const jwks = await client.call("GET", "/.well-known/jwks.json");
    for (const res of [me, accepted, health, jwks]) {
      expectSecurityHeaders(res);
      expectDocumentHeaders(res, false);
    }
    for (const res of [me, accepted, health]) {
      expect(res.headers.get("Content-Type")).toBe("application/json; charset=utf-8");
    }
    expect(me.headers.get("Cache-Control")).toBe("no-store");
    expect(accepted.headers.get("Cache-Control")).toBe("no-store");
  });

  it("token responses are no-store", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const res = await client.call("POST", "/auth/refresh", {
      json: { refresh_token: user.tokens.refresh_token },
    });
    expect(res.status).toBe(200);
    expectSecurityHeaders(res);
    expect(res.headers.get("Cache-Control")).toBe("no-store");
  });

  it("problem responses: problem+json with charset, no-store", async () => {
    const client = testClient();
    const responses = [
      await client.call("GET", "/auth/me"),
      await client.call("POST", "/auth/login", { json: { email: "nope" } }),
      await client.call("POST", "/auth/login", { body: "x", headers: { "Content-Type": "text/plain" } }),
      await client.call("GET", "/auth/does-not-exist"),
    ];
    expect(responses.map((r) => r.status)).toEqual([401, 422, 415, 404]);
    for (const res of responses) {
      expectSecurityHeaders(res);
      expectDocumentHeaders(res, false);
      expect(res.headers.get("Content-Type")).toBe("application/problem+json; charset=utf-8");
      expect(res.headers.get("Cache-Control")).toBe("no-store");
    }
  });

  it("HTML pages: strict CSP, no framing, no-store under /auth", async () => {
    const client = testClient();
    const page = await client.call("GET", `/auth/verify?token=${"a".repeat(43)}`);
    expect(page.status).toBe(200);
    expectSecurityHeaders(page);
    expectDocumentHeaders(page, true);
    expect(page.headers.get("Content-Type")?.toLowerCase()).toBe("text/html; charset=utf-8");
    expect(page.headers.get("Cache-Control")).toBe("no-store");
    expect(page.headers.get("Content-Security-Policy")).not.toContain("unsafe-inline'; script");

    const docs = await client.call("GET", "/docs");
    expect(docs.status).toBe(200);
    expectSecurityHeaders(docs);
    expectDocumentHeaders(docs, true);
    expect(docs.headers.get("Content-Type")?.toLowerCase()).toBe("text/html; charset=utf-8");
  });
});
