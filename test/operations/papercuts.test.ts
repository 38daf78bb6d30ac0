// Both backends: the first things a newcomer's browser asks for answer sensibly, and emails read well.
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { BASE, PASSWORD, registerAndVerify, testClient, uniqueEmail } from "../helpers";

const get = (path: string) => exports.default.fetch(new Request(`${BASE}${path}`));

describe("front door", () => {
  it("GET / is a small HTML index linking /docs", async () => {
    const res = await get("/");
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toMatch(/^text\/html/);
    expect(res.headers.get("Content-Security-Policy")).toContain("default-src 'none'");
    const html = await res.text();
    expect(html).toContain('href="/docs"');
    expect(html).not.toContain("<script");
  });

  it("GET /favicon.ico is 204, not a 404 problem", async () => {
    const res = await get("/favicon.ico");
    expect(res.status).toBe(204);
    expect(await res.text()).toBe("");
  });

  it("both are in the OpenAPI document", async () => {
    const doc = await (await get("/openapi.json")).json<{ paths: Record<string, unknown> }>();
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(["/", "/favicon.ico"]));
  });
});

describe("email wording", () => {
  it('registering a taken address sends "You already have an account at …", not "a edge-auth"', async () => {
    const client = testClient();
    const email = uniqueEmail("taken");
    await registerAndVerify(client, email);
    const again = await client.call("POST", "/auth/register", { json: { email, password: PASSWORD } });
    expect(again.status).toBe(202);
    const subject = client.mailbox.last(email).subject;
    expect(subject).toBe("You already have an account at edge-auth");
    expect(subject).not.toMatch(/\ba edge-auth\b/);
  });
});
