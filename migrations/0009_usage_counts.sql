CREATE TABLE `token_daily_counts` (
	`token_id` text NOT NULL,
	`day` integer NOT NULL,
	`valid` integer DEFAULT 0 NOT NULL,
	`denied` integer DEFAULT 0 NOT NULL,
	`dead` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`token_id`, `day`),
	FOREIGN KEY (`token_id`) REFERENCES `tokens`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `token_daily_counts_day` ON `token_daily_counts` (`day`);--> statement-breakpoint
ALTER TABLE `tokens` ADD `dead_attempts` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `tokens` ADD `dead_attempt_at` integer;--> statement-breakpoint
ALTER TABLE `tokens` ADD `dead_attempt_ip` text;