-- Webhook events (docs/API.md "Webhook events", docs/DESIGN.md §4.1): subscriptions, the outbox that is
-- also the delivery log, and the map from audit actions to event types that the trigger below reads.
CREATE TABLE `webhook_event_map` (
	`action` text PRIMARY KEY NOT NULL,
	`event_type` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `webhook_outbox` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`type` text NOT NULL,
	`data` text NOT NULL,
	`created_at` integer NOT NULL,
	`state` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer,
	`claimed_at` integer,
	`last_attempt_at` integer,
	`last_status` integer,
	`last_error` text,
	FOREIGN KEY (`org_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `webhook_outbox_due` ON `webhook_outbox` (`next_attempt_at`);--> statement-breakpoint
CREATE INDEX `webhook_outbox_org` ON `webhook_outbox` (`org_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `webhook_outbox_created` ON `webhook_outbox` (`created_at`);--> statement-breakpoint
CREATE TABLE `webhook_settings` (
	`org_id` text PRIMARY KEY NOT NULL,
	`events` text NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`org_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
INSERT INTO `webhook_event_map` (`action`, `event_type`) VALUES
  ('token.created', 'token.created'),
  ('token.regenerated', 'token.regenerated'),
  ('token.rotated', 'token.rotated'),
  ('token.grace_ended', 'token.grace_ended'),
  ('token.kept', 'token.kept'),
  ('token.disabled', 'token.disabled'),
  ('token.enabled', 'token.enabled'),
  ('token.revoked', 'token.revoked'),
  ('token.deleted', 'token.deleted'),
  ('token.expired', 'token.expired'),
  ('token.purged', 'token.purged'),
  ('member.added', 'member.added'),
  ('invitation.accepted', 'member.added'),
  ('member.invited', 'member.invited'),
  ('member.updated', 'member.updated'),
  ('member.removed', 'member.removed');
--> statement-breakpoint
-- An audit event whose action maps to an event type the organization subscribes to queues that event
-- in the same transaction, whichever code wrote it (drizzle, or an INSERT ... SELECT of the bulk revoke
-- and the cron jobs). The token or membership is described as it is at that moment: a deleted or
-- purged token's row is still there when its event is recorded. Organizations without a webhook, or
-- without a webhook_settings row (the defaults subscribe to no audit-fed event), queue nothing.
CREATE TRIGGER `audit_events_webhook_outbox` AFTER INSERT ON `audit_events`
WHEN NEW.`org_id` IS NOT NULL
BEGIN
  INSERT INTO `webhook_outbox` (`id`, `org_id`, `type`, `data`, `created_at`, `state`, `attempts`, `next_attempt_at`)
  SELECT 'msg_' || lower(hex(randomblob(16))), NEW.`org_id`, m.`event_type`,
    json_object(
      'actor', json_object('type', NEW.`actor_type`, 'id', NEW.`actor_id`),
      'target', json_object('type', NEW.`target_type`, 'id', NEW.`target_id`),
      'detail', json(coalesce(NEW.`detail`, '{}')),
      'token', json((SELECT json_object('id', t.`id`, 'name', t.`name`, 'kind', t.`kind`, 'group', g.`slug`,
          'user', CASE WHEN t.`user_id` IS NULL THEN NULL ELSE json_object('id', t.`user_id`) END,
          'expiresAt', CASE WHEN t.`expires_at` IS NULL THEN NULL
            ELSE strftime('%Y-%m-%dT%H:%M:%fZ', t.`expires_at` / 1000.0, 'unixepoch') END)
        FROM `tokens` t LEFT JOIN `groups` g ON g.`id` = t.`group_id`
        WHERE NEW.`target_type` = 'token' AND t.`id` = NEW.`target_id`)),
      'member', json((SELECT json_object('id', ms.`id`, 'user', json_object('id', u.`id`, 'email', u.`email`),
          'role', ms.`role`, 'group', g.`slug`)
        FROM `memberships` ms JOIN `users` u ON u.`id` = ms.`user_id` LEFT JOIN `groups` g ON g.`id` = ms.`group_id`
        WHERE ms.`id` = CASE WHEN NEW.`target_type` = 'member' THEN NEW.`target_id`
          WHEN NEW.`action` = 'invitation.accepted' THEN json_extract(NEW.`detail`, '$.memberId') END))
    ),
    NEW.`at`, 'pending', 0, NEW.`at`
  FROM `webhook_event_map` m JOIN `organizations` o ON o.`id` = NEW.`org_id`
  WHERE m.`action` = NEW.`action` AND o.`webhook_url` IS NOT NULL AND o.`webhook_secret` IS NOT NULL
    AND EXISTS (SELECT 1 FROM `webhook_settings` w, json_each(w.`events`) e
      WHERE w.`org_id` = NEW.`org_id` AND e.`value` = m.`event_type`);
END;
