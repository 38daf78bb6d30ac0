import type { Hono } from "hono";
import type { AppEnv } from "./context";

// Swagger UI is served from our own assets (public/vendor, copied from swagger-ui-dist), so no CDN is
// involved and the page can run under a strict CSP without inline script.
const DOCS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>edge-auth API</title>
<link rel="stylesheet" href="/vendor/swagger-ui/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/vendor/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>`;

const INIT_JS = `window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  persistAuthorization: true,
  deepLinking: true,
});`;

const DOCS_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

export function mountDocs(app: Hono<AppEnv>): void {
  app.get("/docs", (c) => {
    c.header("Content-Security-Policy", DOCS_CSP);
    c.header("Cache-Control", "no-cache");
    return c.html(DOCS_HTML);
  });
  app.get("/docs/init.js", (c) => {
    c.header("Cache-Control", "no-cache");
    return c.body(INIT_JS, 200, { "Content-Type": "text/javascript; charset=utf-8" });
  });
}
