// POST /auth/reauthenticate {passkey} is built on verifyPasskeyAssertion(…, expectedUserId); until that
// route is merged, the rule it relies on is proven here at the service boundary.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { getConfig } from "../../src/config";
import { RequestDeps } from "../../src/deps";
import { AppError } from "../../src/errors";
import { verifyPasskeyAssertion } from "../../src/passkeys/service";
import { auditEntries, BASE, createVerifiedUser, testClient } from "../helpers";
import { SoftwareAuthenticator } from "./authenticator";

const meta = { ip: null, userAgent: null, requestId: "test" };

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

    const deps = new RequestDeps(getConfig(env), env, {}, undefined);
    try {
      const loginOptions = async () =>
        (await client.call("POST", "/auth/passkeys/login/options", { json: {} })).body;
      const foreign = await auth.assert(await loginOptions());
      const refused = await verifyPasskeyAssertion(deps, foreign, meta, caller.id).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(AppError);
      expect((refused as AppError).wireCode).toBe("invalid_passkey");
      // The refused attempt spent its challenge: the same response cannot be used anywhere else.
      expect(
        (await client.call("POST", "/auth/passkeys/login", { json: { response: foreign } })).status,
      ).toBe(401);

      const own = await verifyPasskeyAssertion(deps, await auth.assert(await loginOptions()), meta, owner.id);
      expect(own.user.id).toBe(owner.id);
    } finally {
      await deps.close();
    }
    const reasons = (await auditEntries(caller.id)).filter((e) => e.action === "passkey_failed");
    expect(reasons.map((e) => e.metadata)).toEqual([
      { reason: "unknown_credential", stage: "reauthenticate" },
    ]);
  });
});
