CREATE TABLE `org_policies` (
	`org_id` text PRIMARY KEY NOT NULL,
	`org_max_days` integer,
	`group_max_days` integer,
	`personal_max_days` integer,
	`org_expiry_required` integer DEFAULT false NOT NULL,
	`group_expiry_required` integer DEFAULT false NOT NULL,
	`personal_expiry_required` integer DEFAULT false NOT NULL,
	`personal_permission_sets` text,
	`expiry_notice_days` text,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`org_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
ALTER TABLE `tokens` ADD `expiry_cut` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `tokens` ADD `own_expires_at` integer;--> statement-breakpoint
ALTER TABLE `tokens` ADD `regenerated_at` integer;--> statement-breakpoint
ALTER TABLE `tokens` ADD `notified_days` integer;--> statement-breakpoint
ALTER TABLE `tokens` ADD `notice_claim_at` integer;--> statement-breakpoint
ALTER TABLE `tokens` ADD `purge_warned_for` integer;--> statement-breakpoint
-- The fixed 7-day and 1-day flags become the smallest lead time notified (claims in flight are dropped:
-- a claim is retried by the next run anyway).
UPDATE `tokens` SET `notified_days` = CASE WHEN `notified_1d_at` > 0 THEN 1 WHEN `notified_7d_at` > 0 THEN 7 END;--> statement-breakpoint
ALTER TABLE `tokens` DROP COLUMN `notified_7d_at`;--> statement-breakpoint
ALTER TABLE `tokens` DROP COLUMN `notified_1d_at`;
