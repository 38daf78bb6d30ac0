ALTER TABLE `one_time_tokens` ADD `email_lower` text;--> statement-breakpoint
ALTER TABLE `one_time_tokens` ADD `attempts` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX `one_time_tokens_email_idx` ON `one_time_tokens` (`email_lower`,`purpose`);