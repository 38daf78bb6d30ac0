import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { createTestHarness, type TestHarness } from "wrangler";

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));

export interface Email {
  to: string;
  subject: string;
  text: string;
}

export interface AuthServer {
  /** http://localhost:<port>: WebAuthn refuses an IP address as relying-party id, so not 127.0.0.1. */
  origin: string;
  harness: TestHarness;
  /** Emails the Worker printed (EMAIL_TRANSPORT=console, the development default), oldest first. */
  emails(to: string): Email[];
  close(): Promise<void>;
}

const EMAIL = /=== email to (.+?) ===\nSubject: (.*)\n\n([\s\S]*?)\n=== end of email ===/g;

/**
 * The real Worker (wrangler.toml's development configuration: wrangler's bundler, workerd, local D1 and
 * KV in memory, static assets with public/_headers) on a local port. Nothing is faked: outbound fetches
 * go nowhere in this journey, and emails are read from the Worker's own log.
 */
export async function startAuthServer(vars: (origin: string) => Record<string, string>): Promise<AuthServer> {
  const worker = (origin: string) => ({
    root: ROOT,
    workers: [
      {
        configPath: "./wrangler.toml",
        vars: { APP_URL: origin, RATE_LIMIT_ENABLED: "false", ...vars(origin) },
      },
    ],
  });
  const harness = createTestHarness(worker("http://localhost:8787"));
  const { url } = await harness.listen();
  // The port is only known once listening; APP_URL (email links, WebAuthn origin) must name it.
  const origin = `http://localhost:${url.port}`;
  await harness.update(worker(origin));
  const { url: after } = await harness.listen();
  if (after.port !== url.port) throw new Error(`the test server moved from ${url.port} to ${after.port}`);
  await harness.getWorker().applyD1Migrations("DB");
  return {
    origin,
    harness,
    emails(to) {
      const out: Email[] = [];
      for (const log of harness.getLogs()) {
        for (const m of log.message.matchAll(EMAIL)) {
          if (m[1]?.toLowerCase() === to.toLowerCase())
            out.push({ to: m[1], subject: m[2] ?? "", text: m[3] ?? "" });
        }
      }
      return out;
    },
    close: () => harness.close(),
  };
}

/** The first link in an email's text that starts with `prefix`. */
export function linkIn(email: Email, prefix: string): string {
  const found = email.text.split(/\s+/).find((word) => word.startsWith(prefix));
  if (!found) throw new Error(`no ${prefix} link in "${email.subject}": ${email.text}`);
  return found;
}

export interface AppServer {
  origin: string;
  /** The page an app registers as its redirect_to: it exchanges the one-time code for tokens. */
  signedInUrl: string;
  close(): Promise<void>;
}

/**
 * A stand-in for an application on another origin (127.0.0.1, another port): its page reads ?code=,
 * exchanges it at the auth server (CORS) and shows who signed in, as a real app's callback would.
 */
export async function startAppServer(authOrigin: () => string): Promise<AppServer> {
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://app").pathname;
    if (path === "/signed-in.js") {
      res.writeHead(200, { "Content-Type": "text/javascript" });
      res.end(appScript(authOrigin()));
      return;
    }
    if (path !== "/signed-in") {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
    res.end(`<!doctype html><html lang="en"><head><title>App</title></head><body><main>
<h1>Example app</h1><p id="result" role="status">Exchanging…</p></main>
<script src="/signed-in.js"></script></body></html>`);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    signedInUrl: `${origin}/signed-in`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function appScript(auth: string): string {
  return `(async () => {
  const out = document.getElementById("result");
  const code = new URLSearchParams(location.search).get("code");
  history.replaceState(null, "", location.pathname);
  const post = await fetch(${JSON.stringify(auth)} + "/auth/oauth/exchange", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ code }),
  });
  const tokens = await post.json();
  if (!post.ok || !tokens.access_token) { out.textContent = "exchange failed: " + post.status; return; }
  const me = await fetch(${JSON.stringify(auth)} + "/auth/me", {
    headers: { Authorization: "Bearer " + tokens.access_token },
  });
  const user = await me.json();
  out.textContent = "Signed in as " + user.email + (tokens.refresh_token ? " with a refresh token" : "");
})().catch((e) => { document.getElementById("result").textContent = "error: " + e; });`;
}
