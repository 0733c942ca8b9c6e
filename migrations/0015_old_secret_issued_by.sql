ALTER TABLE `tokens` ADD `old_secret_issued_by` text;--> statement-breakpoint
CREATE INDEX `tokens_old_secret_issued_by` ON `tokens` (`org_id`,`old_secret_issued_by`);