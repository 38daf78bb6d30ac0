CREATE TABLE `webhook_outbox` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text,
	`seq` integer,
	`status` text DEFAULT 'pending' NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer NOT NULL,
	`give_up_at` integer NOT NULL,
	`lease_until` integer,
	`lease_token` text,
	`last_error` text,
	`last_status` integer,
	`created_at` integer NOT NULL,
	`delivered_at` integer
);
--> statement-breakpoint
CREATE INDEX `webhook_outbox_due_idx` ON `webhook_outbox` (`status`,`next_attempt_at`);--> statement-breakpoint
CREATE INDEX `webhook_outbox_user_seq_idx` ON `webhook_outbox` (`user_id`,`seq`);--> statement-breakpoint
CREATE INDEX `webhook_outbox_status_created_idx` ON `webhook_outbox` (`status`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `webhook_outbox_delivered_idx` ON `webhook_outbox` (`delivered_at`);