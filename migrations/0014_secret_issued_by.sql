ALTER TABLE `tokens` ADD `secret_issued_by` text;--> statement-breakpoint
CREATE INDEX `tokens_secret_issued_by` ON `tokens` (`org_id`,`secret_issued_by`);