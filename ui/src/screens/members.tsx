// Who may use the console in this organization, and with which role.
import { api, type Member, type Role } from "../client";
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
      sub="Admins manage the organization's tokens; members manage their own personal tokens."
      empty="Add the people who manage tokens with you."
      removal="Their personal tokens in this organization are revoked when they have no other role here."
      label={(m) => m.user.email}
      load={api.members}
      columns={[
        ["Email", (m) => m.user.email],
        ["Role", (m) => roleName(m.role)],
        ["Group", (m) => m.group?.name ?? <span class="muted">Whole organization</span>],
      ]}
      fields={(groups) => [
        { name: "email", label: "Email", type: "email", required: true },
        { name: "role", label: "Role", type: "select", options: ROLES },
        { name: "group", label: "Group (for group roles)", type: "select", options: groupOptions(groups, "None") },
        { name: "password", label: "Initial password (new accounts only)", type: "password", hint: "At least 12 characters. Leave empty when the person already has an account." },
      ]}
      create={(org, v) =>
        api.addMember(org, { email: v.email!, role: v.role as Role, ...(v.group && { group: v.group }), ...(v.password && { password: v.password }) })
      }
    />
  );
}
