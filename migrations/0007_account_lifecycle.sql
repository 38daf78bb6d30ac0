ALTER TABLE `audit_log` ADD `personal_salt` text;--> statement-breakpoint
ALTER TABLE `audit_log` ADD `personal_digest` text;