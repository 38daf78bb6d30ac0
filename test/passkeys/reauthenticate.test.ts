// POST /auth/reauthenticate {passkey} (API.md "Recent authentication"): only the caller's own passkey
// makes the session recent, the challenge is spent either way, and a failure counts like a bad password.
import { describe, expect, it } from "vitest";
import { auditEntries, BASE, createVerifiedUser, testClient } from "../helpers";
import { SoftwareAuthenticator } from "./authenticator";

describe("passkey re-authentication", () => {
  it("accepts the caller's own passkey and refuses another account's, spending the challenge", async () => {
    const client = testClient();
    const owner = await createVerifiedUser(client);
    const caller = await createVerifiedUser(client);
    const auth = await SoftwareAuthenticator.create(BASE);
    const options = await client.call("POST", "/auth/passkeys/register/options", {
      token: owner.tokens.access_token,
    });
    const registered = await client.call("POST", "/auth/passkeys/register", {
      token: owner.tokens.access_token,
      json: { response: await auth.register(options.body) },
    });
    expect(registered.status).toBe(201);
    const loginOptions = async () =>
      (await client.call("POST", "/auth/passkeys/login/options", { json: {} })).body;

    // Another account's passkey does not re-authenticate the caller, and its challenge is spent.
    const foreign = await auth.assert(await loginOptions());
    const refused = await client.call("POST", "/auth/reauthenticate", {
      token: caller.tokens.access_token,
      json: { passkey: foreign },
    });
    expect(refused.status).toBe(401);
    expect(refused.body.code).toBe("invalid_credentials");
    expect((await client.call("POST", "/auth/passkeys/login", { json: { response: foreign } })).status).toBe(
      401,
    );
    const reasons = (await auditEntries(caller.id)).filter((e) => e.action === "passkey_failed");
    expect(reasons.map((e) => e.metadata)).toEqual([
      { reason: "unknown_credential", stage: "reauthenticate" },
    ]);

    // The owner's own passkey does, and a replay of that same assertion does not.
    const own = await auth.assert(await loginOptions());
    const ok = await client.call("POST", "/auth/reauthenticate", {
      token: owner.tokens.access_token,
      json: { passkey: own },
    });
    expect(ok.status).toBe(200);
    expect(typeof ok.body.reauthenticated_until).toBe("string");
    const replay = await client.call("POST", "/auth/reauthenticate", {
      token: owner.tokens.access_token,
      json: { passkey: own },
    });
    expect(replay.status).toBe(401);
    const reauth = (await auditEntries(owner.id)).filter((e) => e.action === "reauthenticated");
    expect(reauth.map((e) => e.metadata)).toEqual([{ method: "passkey" }]);
  });
});
