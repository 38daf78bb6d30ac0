import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../context";
import { AppError } from "../errors";

/** Admin-only routes, after requireAuth (which loaded the caller and its role from the database). */
export const requireAdmin: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (c.var.currentUser.role !== "admin") throw new AppError("forbidden");
  await next();
};
