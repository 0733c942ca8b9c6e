CREATE INDEX `audit_target` ON `audit_events` (`target_id`,`id`);--> statement-breakpoint
CREATE INDEX `audit_actor` ON `audit_events` (`actor_id`,`id`);