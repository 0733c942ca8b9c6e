-- The default permission catalog (docs/DESIGN.md §1). Instance owners may add to it at run time.
--> statement-breakpoint
INSERT INTO permissions (name, description, created_at) VALUES ('analysis:execute', 'Run an analysis and upload its results', (CAST(strftime('%s','now') AS INTEGER) * 1000));
--> statement-breakpoint
INSERT INTO permissions (name, description, created_at) VALUES ('analysis:read', 'Read analysis results', (CAST(strftime('%s','now') AS INTEGER) * 1000));
--> statement-breakpoint
INSERT INTO permissions (name, description, created_at) VALUES ('project:browse', 'Browse projects and their metadata', (CAST(strftime('%s','now') AS INTEGER) * 1000));
--> statement-breakpoint
INSERT INTO permissions (name, description, created_at) VALUES ('project:create', 'Create projects on first analysis', (CAST(strftime('%s','now') AS INTEGER) * 1000));
--> statement-breakpoint
INSERT INTO permissions (name, description, created_at) VALUES ('issues:read', 'Read issues', (CAST(strftime('%s','now') AS INTEGER) * 1000));
--> statement-breakpoint
INSERT INTO permissions (name, description, created_at) VALUES ('issues:write', 'Change issue status, assignee and comments', (CAST(strftime('%s','now') AS INTEGER) * 1000));
--> statement-breakpoint
INSERT INTO permissions (name, description, created_at) VALUES ('quality-gate:read', 'Read quality gate status', (CAST(strftime('%s','now') AS INTEGER) * 1000));
--> statement-breakpoint
INSERT INTO permissions (name, description, created_at) VALUES ('quality-profile:read', 'Read quality profiles and rules', (CAST(strftime('%s','now') AS INTEGER) * 1000));
--> statement-breakpoint
INSERT INTO permissions (name, description, created_at) VALUES ('environment:control:start', 'Start an environment', (CAST(strftime('%s','now') AS INTEGER) * 1000));
--> statement-breakpoint
INSERT INTO permissions (name, description, created_at) VALUES ('environment:control:stop', 'Stop an environment', (CAST(strftime('%s','now') AS INTEGER) * 1000));
--> statement-breakpoint
INSERT INTO permissions (name, description, created_at) VALUES ('ide:connect', 'Connect an IDE plugin', (CAST(strftime('%s','now') AS INTEGER) * 1000));
--> statement-breakpoint
INSERT INTO permissions (name, description, created_at) VALUES ('marketplace:read', 'Browse the marketplace', (CAST(strftime('%s','now') AS INTEGER) * 1000));
--> statement-breakpoint
INSERT INTO permissions (name, description, created_at) VALUES ('marketplace:install', 'Install marketplace extensions', (CAST(strftime('%s','now') AS INTEGER) * 1000));
--> statement-breakpoint
INSERT INTO permissions (name, description, created_at) VALUES ('plugins:download', 'Download scanner plugins', (CAST(strftime('%s','now') AS INTEGER) * 1000));
--> statement-breakpoint
INSERT INTO permissions (name, description, created_at) VALUES ('tokens:introspect', 'Introspect other tokens (RFC 7662)', (CAST(strftime('%s','now') AS INTEGER) * 1000));
--> statement-breakpoint
INSERT INTO permission_sets (id, name, description, builtin, created_at) VALUES ('pset_execute_analysis', 'Execute analysis', 'Run analyses from CI', 1, (CAST(strftime('%s','now') AS INTEGER) * 1000));
--> statement-breakpoint
INSERT INTO permission_set_items (set_id, permission) VALUES ('pset_execute_analysis', 'analysis:execute');
--> statement-breakpoint
INSERT INTO permission_set_items (set_id, permission) VALUES ('pset_execute_analysis', 'project:browse');
--> statement-breakpoint
INSERT INTO permission_sets (id, name, description, builtin, created_at) VALUES ('pset_extended_access', 'Extended access', 'Analyses, results, issues and environments', 1, (CAST(strftime('%s','now') AS INTEGER) * 1000));
--> statement-breakpoint
INSERT INTO permission_set_items (set_id, permission) VALUES ('pset_extended_access', 'analysis:execute');
--> statement-breakpoint
INSERT INTO permission_set_items (set_id, permission) VALUES ('pset_extended_access', 'analysis:read');
--> statement-breakpoint
INSERT INTO permission_set_items (set_id, permission) VALUES ('pset_extended_access', 'project:browse');
--> statement-breakpoint
INSERT INTO permission_set_items (set_id, permission) VALUES ('pset_extended_access', 'issues:read');
--> statement-breakpoint
INSERT INTO permission_set_items (set_id, permission) VALUES ('pset_extended_access', 'issues:write');
--> statement-breakpoint
INSERT INTO permission_set_items (set_id, permission) VALUES ('pset_extended_access', 'quality-gate:read');
--> statement-breakpoint
INSERT INTO permission_set_items (set_id, permission) VALUES ('pset_extended_access', 'quality-profile:read');
--> statement-breakpoint
INSERT INTO permission_set_items (set_id, permission) VALUES ('pset_extended_access', 'environment:control:start');
--> statement-breakpoint
INSERT INTO permission_set_items (set_id, permission) VALUES ('pset_extended_access', 'environment:control:stop');
--> statement-breakpoint
INSERT INTO permission_sets (id, name, description, builtin, created_at) VALUES ('pset_ide_plugins', 'IDE plugins', 'Connected mode for IDE plugins', 1, (CAST(strftime('%s','now') AS INTEGER) * 1000));
--> statement-breakpoint
INSERT INTO permission_set_items (set_id, permission) VALUES ('pset_ide_plugins', 'ide:connect');
--> statement-breakpoint
INSERT INTO permission_set_items (set_id, permission) VALUES ('pset_ide_plugins', 'project:browse');
--> statement-breakpoint
INSERT INTO permission_set_items (set_id, permission) VALUES ('pset_ide_plugins', 'issues:read');
--> statement-breakpoint
INSERT INTO permission_set_items (set_id, permission) VALUES ('pset_ide_plugins', 'quality-profile:read');
--> statement-breakpoint
INSERT INTO permission_sets (id, name, description, builtin, created_at) VALUES ('pset_marketplace', 'Marketplace', 'Browse and install extensions', 1, (CAST(strftime('%s','now') AS INTEGER) * 1000));
--> statement-breakpoint
INSERT INTO permission_set_items (set_id, permission) VALUES ('pset_marketplace', 'marketplace:read');
--> statement-breakpoint
INSERT INTO permission_set_items (set_id, permission) VALUES ('pset_marketplace', 'marketplace:install');
--> statement-breakpoint
INSERT INTO permission_sets (id, name, description, builtin, created_at) VALUES ('pset_maven_plugin', 'Maven plugin', 'The Maven scanner plugin', 1, (CAST(strftime('%s','now') AS INTEGER) * 1000));
--> statement-breakpoint
INSERT INTO permission_set_items (set_id, permission) VALUES ('pset_maven_plugin', 'analysis:execute');
--> statement-breakpoint
INSERT INTO permission_set_items (set_id, permission) VALUES ('pset_maven_plugin', 'plugins:download');
--> statement-breakpoint
INSERT INTO permission_set_items (set_id, permission) VALUES ('pset_maven_plugin', 'project:browse');
