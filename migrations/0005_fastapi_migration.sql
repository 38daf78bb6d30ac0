CREATE TABLE `legacy_spent_tokens` (
	`jti` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`spent_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `users` ADD `username` text;--> statement-breakpoint
ALTER TABLE `users` ADD `username_lower` text;--> statement-breakpoint
ALTER TABLE `users` ADD `sessions_revoked_at` integer;--> statement-breakpoint
CREATE UNIQUE INDEX `users_username_lower_uq` ON `users` (`username_lower`);