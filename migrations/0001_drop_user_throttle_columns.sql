ALTER TABLE `users` DROP COLUMN `failed_login_count`;--> statement-breakpoint
ALTER TABLE `users` DROP COLUMN `login_throttled_until`;--> statement-breakpoint
ALTER TABLE `users` DROP COLUMN `lockout_notified_at`;