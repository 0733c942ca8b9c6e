-- Management through a token is limited by these catalog permissions (docs/API.md, "Management
-- permissions"); `admin: true` on a token means it may hold them.
INSERT OR IGNORE INTO permissions (name, description, created_at) VALUES ('manage:tokens', 'Manage organization and group tokens through the API', (CAST(strftime('%s','now') AS INTEGER) * 1000));
--> statement-breakpoint
INSERT OR IGNORE INTO permissions (name, description, created_at) VALUES ('manage:members', 'Add, change and remove members and invitations (dangerous: can make new admins)', (CAST(strftime('%s','now') AS INTEGER) * 1000));
--> statement-breakpoint
INSERT OR IGNORE INTO permissions (name, description, created_at) VALUES ('manage:projects', 'Create, change and delete projects and groups', (CAST(strftime('%s','now') AS INTEGER) * 1000));
--> statement-breakpoint
INSERT OR IGNORE INTO permissions (name, description, created_at) VALUES ('manage:upstreams', 'Create, change and delete gateway upstreams (dangerous: decides what reaches an API)', (CAST(strftime('%s','now') AS INTEGER) * 1000));
--> statement-breakpoint
INSERT OR IGNORE INTO permissions (name, description, created_at) VALUES ('manage:settings', 'Change the organization''s webhook and policies (dangerous: redirects notices)', (CAST(strftime('%s','now') AS INTEGER) * 1000));
--> statement-breakpoint
INSERT OR IGNORE INTO permissions (name, description, created_at) VALUES ('audit:read', 'Read the organization''s audit log', (CAST(strftime('%s','now') AS INTEGER) * 1000));
--> statement-breakpoint
-- Admin tokens made before these existed keep what they were mostly used for: token management
-- and the audit log. Members, upstreams and settings must now be granted on purpose.
INSERT OR IGNORE INTO token_permissions (token_id, permission) SELECT id, 'manage:tokens' FROM tokens WHERE admin = 1;
--> statement-breakpoint
INSERT OR IGNORE INTO token_permissions (token_id, permission) SELECT id, 'audit:read' FROM tokens WHERE admin = 1;
--> statement-breakpoint
UPDATE tokens SET version = version + 1 WHERE admin = 1;
