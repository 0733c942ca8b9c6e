// Who may use the console in this organization, and with which role.
import type { Member, Role } from "../client";
import { groupOptions, Resource } from "./org";

const ROLES: [Role, string][] = [
  ["org_member", "Member"],
  ["org_admin", "Admin"],
  ["group_member", "Group member"],
  ["group_admin", "Group admin"],
];
const roleName = (r: Role) => ROLES.find(([k]) => k === r)?.[1] ?? r;

export function Members(props: { org: string }) {
  return (
    <Resource<Member>
      org={props.org}
      what="members"
      noun="member"
      title="Members"
      sub="Admins manage the organization's tokens; members see them and manage their personal tokens."
      empty="Add the people who manage tokens with you."
      label={(m) => m.user.email}
      columns={[
        ["Email", (m) => m.user.email],
        ["Role", (m) => roleName(m.role)],
        ["Group", (m) => m.group?.name ?? <span class="muted">Whole organization</span>],
      ]}
      fields={(groups) => [
        { name: "email", label: "Email", type: "email", required: true },
        { name: "role", label: "Role", type: "select", options: ROLES },
        { name: "group", label: "Group (for group roles)", type: "select", options: groupOptions(groups) },
        { name: "password", label: "Initial password (new accounts only)", type: "password", hint: "Leave empty when the person already has an account." },
      ]}
      toBody={(v) => ({ email: v.email, role: v.role, group: v.group || null, ...(v.password && { password: v.password }) })}
    />
  );
}
