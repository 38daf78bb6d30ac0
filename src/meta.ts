import { createRoute, z } from "@hono/zod-openapi";
import { createRouter } from "./router";

/**
 * What the front page links to. A list, so pages added later (a /login or /account page) are one line
 * here, not a new page design.
 */
export const INDEX_LINKS: readonly { href: string; label: string }[] = [
  { href: "/login", label: "Sign in" },
  { href: "/account", label: "Your account" },
  { href: "/docs", label: "API documentation (interactive)" },
  { href: "/openapi.json", label: "OpenAPI document" },
  { href: "/health", label: "Health" },
  { href: "/.well-known/jwks.json", label: "Public signing keys (JWKS)" },
];

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

function indexHtml(appName: string): string {
  const items = INDEX_LINKS.map(
    (l) => `<li><a href="${escapeHtml(l.href)}">${escapeHtml(l.label)}</a></li>`,
  ).join("\n");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(appName)}</title>
</head>
<body>
<h1>${escapeHtml(appName)}</h1>
<p>Sign in, manage your account, or read the API documentation.</p>
<ul>
${items}
</ul>
</body>
</html>`;
}

const indexRoute = createRoute({
  method: "get",
  path: "/",
  tags: ["meta"],
  summary: "A small index page linking the documentation",
  responses: { 200: { description: "HTML index", content: { "text/html": { schema: z.string() } } } },
});

const faviconRoute = createRoute({
  method: "get",
  path: "/favicon.ico",
  tags: ["meta"],
  summary: "No icon: 204, so browsers stop asking and logs show no 404 for it",
  responses: { 204: { description: "No content" } },
});

export function metaRoutes(): ReturnType<typeof createRouter> {
  const router = createRouter();
  router.openapi(indexRoute, (c) => {
    // Static page, no script: the default CSP (default-src 'none') applies unchanged.
    c.header("Cache-Control", "public, max-age=300");
    return c.html(indexHtml(c.var.deps.config.APP_NAME), 200);
  });
  router.openapi(faviconRoute, (c) => {
    c.header("Cache-Control", "public, max-age=86400");
    return c.body(null, 204);
  });
  return router;
}
