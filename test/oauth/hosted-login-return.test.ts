import { describe, expect, it } from "vitest";
import { uniqueEmail } from "../helpers";
import { ALLOWED_REDIRECT, APP_URL, googleSignIn, googleSub, oauthClient, startFlow } from "./fake-providers";

// The hosted /login page starts Google/Facebook with redirect_to = its own address (carrying the app's
// redirect_to), so the provider's round trip ends back on the page, which exchanges the code.
describe("OAuth started on the hosted login page", () => {
  it("returns to our own /login with a one-time code, the app's redirect_to kept", async () => {
    const harness = oauthClient();
    const back = `${APP_URL}/login?redirect_to=${encodeURIComponent(ALLOWED_REDIRECT)}`;
    const res = await googleSignIn(
      harness,
      { sub: googleSub(), email: uniqueEmail("g"), email_verified: true },
      `?redirect_to=${encodeURIComponent(back)}`,
    );
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get("Location")!);
    expect(`${location.origin}${location.pathname}`).toBe(`${APP_URL}/login`);
    expect(location.searchParams.get("redirect_to")).toBe(ALLOWED_REDIRECT);
    const code = location.searchParams.get("code")!;
    const tokens = await harness.client.call("POST", "/auth/oauth/exchange", { json: { code } });
    expect(tokens.status).toBe(200);
    expect(tokens.body.access_token).toEqual(expect.any(String));
  });

  it.each([
    "https://evil.example/login",
    `${APP_URL}/login-else`,
    `${APP_URL}/account`,
    `${APP_URL.replace("https:", "http:")}/login`,
    `${APP_URL}/login#x`,
    `https://u:p@${new URL(APP_URL).host}/login`,
  ])("only our exact /login is accepted besides the allow-list: %s is 400", async (target) => {
    const harness = oauthClient();
    const res = await harness.client.call(
      "GET",
      `/auth/google/authorize?redirect_to=${encodeURIComponent(target)}`,
    );
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("invalid_redirect");
  });

  it("still starts a flow for an allow-listed app URL", async () => {
    const flow = await startFlow(
      oauthClient().client,
      "google",
      `?redirect_to=${encodeURIComponent(ALLOWED_REDIRECT)}`,
    );
    expect(flow.state).not.toBe("");
  });
});
