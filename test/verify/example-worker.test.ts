import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import example from "../../examples/verify-worker/src/index";
import { BASE, createVerifiedUser, testClient } from "../helpers";

describe("examples/verify-worker against the service through a service binding", () => {
  it("answers a signed-in user, forwards the client IP for the service's limits, and refuses after sign-out", async () => {
    const raw = testClient();
    const user = await createVerifiedUser(raw);
    const seen: Request[] = [];
    // The real binding to this Worker (exports.default), recording what the example sends through it.
    const AUTH = {
      fetch: (request: Request) => {
        seen.push(request.clone());
        return exports.default.fetch(request);
      },
    };
    const bindings = { AUTH, AUTH_ISSUER: BASE, AUTH_AUDIENCE: BASE, AUTH_SECRET: env.SECRET_KEY };
    const hello = () =>
      example.request(
        "https://api.example.test/api/hello",
        {
          headers: { Authorization: `Bearer ${user.tokens.access_token}`, "CF-Connecting-IP": "2001:db8::7" },
        },
        bindings,
      );

    const res = await hello();
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ hello: user.email, user_id: user.id });
    expect(seen).toHaveLength(1);
    expect(new URL(seen[0]!.url).pathname).toBe("/auth/me");
    expect(seen[0]!.headers.get("CF-Connecting-IP")).toBe("2001:db8::7");

    expect((await raw.call("POST", "/auth/logout", { token: user.tokens.access_token })).status).toBe(204);
    const after = await hello();
    expect(after.status).toBe(401);
    expect(await after.json()).toMatchObject({ code: "invalid_token" });

    const anonymous = await example.request("https://api.example.test/api/hello", {}, bindings);
    expect(anonymous.status).toBe(401);
    expect(seen).toHaveLength(2); // a request without a token never reaches the service
  });
});
