import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../context";
import { AppError } from "../errors";

/**
 * Loads the caller from the database (after requireAuth). The role is read here on every request, never
 * from a token claim, so a demoted admin loses access with the very next call.
 */
export const loadCurrentUser: MiddlewareHandler<AppEnv> = async (c, next) => {
  const user = await c.var.deps.db.users.findById(c.var.auth.userId);
  // A deleted or deactivated account is treated like a dead token (as /auth/me does).
  if (!user?.isActive) throw new AppError("invalid_access_token");
  c.set("currentUser", user);
  await next();
};

/** Admin-only routes: loadCurrentUser, then the role check. */
export const requireAdmin: MiddlewareHandler<AppEnv> = async (c, next) => {
  await loadCurrentUser(c, async () => {
    if (c.var.currentUser.role !== "admin") throw new AppError("forbidden");
    await next();
  });
};
