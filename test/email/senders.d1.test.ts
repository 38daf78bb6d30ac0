// The two real email transports, at their boundary: the Resend HTTP API through the injected fetch, and
// the Workers send_email binding as a fake binding object. Backend-independent: D1 project only.
import { describe, expect, it, vi } from "vitest";
import { testClient, uniqueEmail } from "../helpers";

const FROM = "edge-auth <no-reply@auth.example.test>";
const register = (client: ReturnType<typeof testClient>, email: string) =>
  client.call("POST", "/auth/register", { json: { email, password: "a-long-enough-passphrase-1" } });
const tokenIn = (text: string): string => {
  const m = /https:\/\/auth\.example\.test\/auth\/verify\?token=([A-Za-z0-9_-]+)/.exec(text);
  if (!m?.[1]) throw new Error(`no verification link in: ${text}`);
  return m[1];
};

describe("Resend sender", () => {
  const env = { EMAIL_TRANSPORT: "resend", RESEND_API_KEY: "re_test_key_123", EMAIL_FROM: FROM };

  it("POSTs one JSON message to the Resend API with the key, and its link verifies the account", async () => {
    const requests: Request[] = [];
    const fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
      requests.push(new Request(input, init));
      return Response.json({ id: "email_1" });
    };
    // email: undefined, so the app builds its real sender from the configuration.
    const client = testClient({ email: undefined, fetch }, env);
    const email = uniqueEmail();
    expect((await register(client, email)).status).toBe(202);

    expect(requests).toHaveLength(1);
    const req = requests[0]!;
    expect(req.method).toBe("POST");
    expect(req.url).toBe("https://api.resend.com/emails");
    expect(req.headers.get("Authorization")).toBe("Bearer re_test_key_123");
    expect(req.headers.get("Content-Type")).toBe("application/json");
    const body = await req.json<{
      from: string;
      to: string[];
      subject: string;
      text: string;
      html: string;
    }>();
    expect(body).toEqual({
      from: FROM,
      to: [email],
      subject: expect.stringContaining("Verify your email"),
      text: expect.any(String),
      html: expect.stringContaining("<a href="),
    });
    const token = tokenIn(body.text);
    expect(body.html).toContain(`/auth/verify?token=${token}`);
    expect((await client.call("POST", "/auth/verify", { json: { token } })).status).toBe(200);
  });

  it("a failing Resend API does not change the answer, and is logged without the key", async () => {
    const fetch = async (): Promise<Response> => new Response("upstream down", { status: 500 });
    const client = testClient({ email: undefined, fetch }, env);
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      expect((await register(client, uniqueEmail())).status).toBe(202);
      const logged = errors.mock.calls.map((c) => String(c[0])).join("\n");
      expect(logged).toContain("Resend answered 500");
      expect(logged).not.toContain("re_test_key_123");
    } finally {
      errors.mockRestore();
    }
  });
});

describe("Cloudflare send_email sender", () => {
  it("hands the binding one MIME message, text and HTML, whose link verifies the account", async () => {
    const sent: EmailMessage[] = [];
    const SEND_EMAIL = {
      async send(message: EmailMessage) {
        sent.push(message);
        return { messageId: "m1" };
      },
    };
    const client = testClient(
      { email: undefined },
      { EMAIL_TRANSPORT: "cloudflare", EMAIL_FROM: FROM, SEND_EMAIL },
    );
    const email = uniqueEmail();
    expect((await register(client, email)).status).toBe(202);

    expect(sent).toHaveLength(1);
    const message = sent[0]!;
    // The envelope carries bare addresses; the display name stays in the From header.
    expect(message.from).toBe("no-reply@auth.example.test");
    expect(message.to).toBe(email);
    // workerd keeps the raw MIME text on this property; there is no public getter.
    const raw = (message as unknown as Record<string, unknown>)["EmailMessage::raw"];
    expect(typeof raw).toBe("string");
    const mime = raw as string;
    const [head, ...rest] = mime.split("\r\n\r\n");
    expect(head).toContain(`From: ${FROM}`);
    expect(head).toContain(`To: ${email}`);
    expect(head).toMatch(/^Subject: Verify your email/m);
    expect(head).toMatch(/^Message-ID: <[0-9a-f-]+@auth\.example\.test>$/m);
    const boundary = /boundary="([^"]+)"/.exec(head!)?.[1];
    expect(boundary).toMatch(/^b[0-9a-f]{32}$/);
    const parts = rest.join("\r\n\r\n");
    expect(parts).toContain("Content-Type: text/plain; charset=utf-8");
    expect(parts).toContain("Content-Type: text/html; charset=utf-8");
    expect(mime.trimEnd().endsWith(`--${boundary}--`)).toBe(true);
    const token = tokenIn(mime);
    expect((await client.call("POST", "/auth/verify", { json: { token } })).status).toBe(200);
  });
});
