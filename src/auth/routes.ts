import { createRouter } from "../router";

export function authRoutes() {
  const router = createRouter();
  return router;
}
