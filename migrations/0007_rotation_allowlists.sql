ALTER TABLE `tokens` ADD `allowed_ips` text;--> statement-breakpoint
ALTER TABLE `tokens` ADD `old_hash` text;--> statement-breakpoint
ALTER TABLE `tokens` ADD `old_hash_until` integer;--> statement-breakpoint
ALTER TABLE `tokens` ADD `old_secret_used_at` integer;--> statement-breakpoint
ALTER TABLE `tokens` ADD `old_secret_ips` text;--> statement-breakpoint
CREATE INDEX `tokens_old_hash` ON `tokens` (`old_hash`);