CREATE TABLE `login_throttle` (
	`key` text PRIMARY KEY NOT NULL,
	`attempts` integer NOT NULL,
	`window_ends_at` integer NOT NULL,
	`locked_until` integer
);
--> statement-breakpoint
CREATE INDEX `login_throttle_window_idx` ON `login_throttle` (`window_ends_at`);--> statement-breakpoint
ALTER TABLE `sessions` ADD `authenticated_at` integer;