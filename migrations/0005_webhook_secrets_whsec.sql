-- Standard Webhooks (docs/CRON.md "Webhooks"): a secret is `whsec_` then the base64 of its key bytes.
-- Secrets stored before were used as their UTF-8 bytes, so each becomes `whsec_` + base64(those bytes):
-- the key is unchanged, only written the standard way. SQLite has no base64, hence the CTEs: hex() gives
-- the bytes, 3 at a time (6 hex digits) make 4 base64 digits, '=' pads a last group of 1 or 2 bytes.
CREATE TABLE `_whsec` AS
WITH RECURSIVE
  src(id, h) AS (
    SELECT id, hex(webhook_secret) FROM organizations
    WHERE webhook_secret IS NOT NULL AND length(webhook_secret) > 0 AND substr(webhook_secret, 1, 6) <> 'whsec_'
  ),
  grp(id, h, pos, g) AS (
    SELECT id, h, 1, substr(h, 1, 6) FROM src
    UNION ALL
    SELECT id, h, pos + 6, substr(h, pos + 6, 6) FROM grp WHERE pos + 6 <= length(h)
  ),
  num(id, pos, len, n) AS (
    SELECT id, pos, length(g),
      ((instr('0123456789ABCDEF', substr(g || '0000', 1, 1)) - 1) << 20)
      | ((instr('0123456789ABCDEF', substr(g || '0000', 2, 1)) - 1) << 16)
      | ((instr('0123456789ABCDEF', substr(g || '0000', 3, 1)) - 1) << 12)
      | ((instr('0123456789ABCDEF', substr(g || '0000', 4, 1)) - 1) << 8)
      | ((instr('0123456789ABCDEF', substr(g || '0000', 5, 1)) - 1) << 4)
      | (instr('0123456789ABCDEF', substr(g || '0000', 6, 1)) - 1)
    FROM grp
  ),
  quad(id, pos, s) AS (
    SELECT id, pos,
      substr('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', ((n >> 18) & 63) + 1, 1)
      || substr('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', ((n >> 12) & 63) + 1, 1)
      || CASE WHEN len >= 4
        THEN substr('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', ((n >> 6) & 63) + 1, 1)
        ELSE '=' END
      || CASE WHEN len = 6
        THEN substr('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', (n & 63) + 1, 1)
        ELSE '=' END
    FROM num
  ),
  joined(id, pos, out) AS (
    SELECT id, pos, s FROM quad WHERE pos = 1
    UNION ALL
    SELECT j.id, q.pos, j.out || q.s FROM joined j JOIN quad q ON q.id = j.id AND q.pos = j.pos + 6
  )
SELECT id, out FROM joined j WHERE NOT EXISTS (SELECT 1 FROM quad q WHERE q.id = j.id AND q.pos > j.pos);
--> statement-breakpoint
UPDATE `organizations` SET `webhook_secret` = 'whsec_' || (SELECT `out` FROM `_whsec` w WHERE w.id = organizations.id)
WHERE `id` IN (SELECT `id` FROM `_whsec`);
--> statement-breakpoint
DROP TABLE `_whsec`;
