import { describe, expect, it } from "vitest";
import { testClient } from "../helpers";

const APP = "https://app.example.test/signed-in";
const ENV = { OAUTH_REDIRECT_ALLOWLIST: APP, APP_NAME: "Acme Accounts" };

/** The nonce a page's CSP names, and every nonce attribute its markup carries. */
function nonces(csp: string, html: string): { policy: string; used: string[] } {
  const policy = /script-src 'nonce-([^']+)'/.exec(csp)?.[1] ?? "";
  const used = [...html.matchAll(/ nonce="([^"]+)"/g)].map((m) => m[1]!);
  return { policy, used };
}

describe("hosted pages", () => {
  it.each(["/login", "/signup", "/account"])(
    "%s runs only its own nonce'd scripts, framed by nobody",
    async (path) => {
      const client = testClient({}, ENV);
      const [a, b] = [await client.call("GET", path), await client.call("GET", path)];
      expect(a.status).toBe(200);
      expect(a.headers.get("Content-Type")).toMatch(/^text\/html/);
      const csp = a.headers.get("Content-Security-Policy") ?? "";
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("base-uri 'none'");
      expect(csp).toContain("require-trusted-types-for 'script'");
      expect(csp).not.toContain("unsafe-inline");
      expect(csp).not.toContain("unsafe-eval");
      expect(a.headers.get("X-Frame-Options")).toBe("DENY");
      expect(a.headers.get("Cache-Control")).toBe("no-store");
      const { policy, used } = nonces(csp, a.text);
      expect(policy).toMatch(/^[A-Za-z0-9+/]{22}==$/);
      expect(used.length).toBeGreaterThan(1);
      expect(new Set(used)).toEqual(new Set([policy]));
      // A fresh nonce per response: one seen in a page is worth nothing for the next.
      expect(nonces(b.headers.get("Content-Security-Policy") ?? "", b.text).policy).not.toBe(policy);
      // No inline handlers, no inline script bodies, nothing from another origin.
      expect(a.text).not.toMatch(/\son[a-z]+=/i);
      expect(a.text).not.toMatch(/<script[^>]*>[^<]/);
      expect(a.text).not.toMatch(/(src|href)="(https?:)?\/\//);
      expect(a.text).toContain("Acme Accounts");
    },
  );

  it("escapes what it echoes: an allow-listed redirect_to cannot break out of its attribute", async () => {
    const client = testClient({}, { OAUTH_REDIRECT_ALLOWLIST: "https://app.example.test/" });
    const crafted = `https://app.example.test/x?a="><script>alert(1)</script>`;
    const res = await client.call("GET", `/login?redirect_to=${encodeURIComponent(crafted)}`);
    expect(res.status).toBe(200);
    expect(res.text).not.toContain("<script>alert(1)");
    expect(res.text).toContain("&lt;script&gt;");
  });

  it.each([
    "https://evil.example/signed-in",
    "https://app.example.test.evil.example/signed-in",
    "https://app.example.test/signed-in-elsewhere",
    "javascript:alert(1)",
    "//evil.example/signed-in",
    "https://user@app.example.test/signed-in",
  ])("refuses redirect_to=%s: 400, no sign-in form, nothing echoed", async (target) => {
    const client = testClient({}, ENV);
    const res = await client.call("GET", `/login?redirect_to=${encodeURIComponent(target)}`);
    expect(res.status).toBe(400);
    expect(res.text).toMatch(/not allowed/);
    expect(res.text).not.toContain('id="password-form"');
    expect(res.text).not.toContain("<script");
    expect(res.text).not.toContain(target.replaceAll("&", "&amp;"));
  });

  it("keeps an allowed redirect_to for the script, and links sign-up with it", async () => {
    const client = testClient({}, ENV);
    const res = await client.call("GET", `/login?redirect_to=${encodeURIComponent(APP)}`);
    expect(res.status).toBe(200);
    expect(res.text).toContain(`data-redirect-to="${APP}"`);
    expect(res.text).toContain(`href="/signup?redirect_to=${encodeURIComponent(APP)}"`);
  });

  it("shows provider buttons only for configured providers", async () => {
    const without = await testClient({}, ENV).call("GET", "/login");
    expect(without.text).not.toContain("Continue with Google");
    const withGoogle = await testClient(
      {},
      { ...ENV, GOOGLE_CLIENT_ID: "id.apps.googleusercontent.com", GOOGLE_CLIENT_SECRET: "s" },
    ).call("GET", "/login");
    expect(withGoogle.text).toContain('href="/auth/google/authorize"');
    expect(withGoogle.text).not.toContain("Continue with Facebook");
  });

  it("labels every input", async () => {
    for (const path of ["/login", "/signup", "/account"]) {
      const { text } = await testClient({}, ENV).call("GET", path);
      const ids = [...text.matchAll(/<input[^>]*\sid="([^"]+)"/g)].map((m) => m[1]!);
      expect(ids.length).toBeGreaterThan(0);
      for (const id of ids) {
        const labelled =
          text.includes(`for="${id}"`) || new RegExp(`<label>[^<]*<input[^>]*id="${id}"`).test(text);
        expect(labelled, `${path} #${id}`).toBe(true);
      }
    }
  });

  it("never lets a form fall back to GET: without the script a password or code must not land in a URL", async () => {
    for (const path of ["/login", "/signup", "/account"]) {
      const { text } = await testClient({}, ENV).call("GET", path);
      const forms = [...text.matchAll(/<form\b[^>]*>/g)].map((m) => m[0]);
      expect(forms.length, path).toBeGreaterThan(0);
      for (const form of forms) expect(form, path).toContain('method="post"');
    }
  });

  it("front page links to sign-in, the account page and the docs", async () => {
    const res = await testClient({}, ENV).call("GET", "/");
    for (const href of ["/login", "/account", "/docs"]) expect(res.text).toContain(`href="${href}"`);
  });

  it("verify and reset pages link back to /login and carry APP_NAME", async () => {
    const client = testClient({}, ENV);
    for (const path of [
      "/auth/verify?token=abc",
      "/auth/password/reset?token=abc",
      "/auth/password/forgot",
    ]) {
      const res = await client.call("GET", path);
      expect(res.text, path).toContain('href="/login"');
      expect(res.text, path).toContain("Acme Accounts");
    }
  });
});
