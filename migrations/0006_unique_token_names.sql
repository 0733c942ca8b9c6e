-- Token names become unique per owner among live (not revoked) tokens: worker/tokens/names.ts.
-- Existing duplicates keep the oldest token's name; each later one gets its id's first 8 characters
-- appended, " (1a2b3c4d)", cut to stay within the 100-character name limit, so the index can be built.
UPDATE `tokens` SET `name` = substr(`tokens`.`name`, 1, 89) || ' (' || substr(`tokens`.`id`, 1, 8) || ')'
FROM (
  SELECT `id`, ROW_NUMBER() OVER (
    PARTITION BY `org_id`, `kind`, coalesce(`group_id`, ''), coalesce(`user_id`, ''), `name`
    ORDER BY `created_at`, `id`
  ) AS `n`
  FROM `tokens` WHERE `revoked_at` IS NULL
) AS `dup`
WHERE `tokens`.`id` = `dup`.`id` AND `dup`.`n` > 1;
--> statement-breakpoint
CREATE UNIQUE INDEX `tokens_owner_name` ON `tokens` (`org_id`,`kind`,coalesce(`group_id`, ''),coalesce(`user_id`, ''),`name`) WHERE `revoked_at` IS NULL;
