import { type Answer, api } from "./api-client";

// People join an organization the only way there is: an admin adds their email; a new person gets
// an invitation and registers through it with the name and password they choose.

export interface Person {
  email: string;
  password: string;
  role: "org_admin" | "org_member" | "group_admin" | "group_member";
  group?: string;
  permissions?: string[] | null;
  name?: string;
}

export interface Joined {
  /** The membership's id. */
  id: string;
  userId: string;
  /** The new account's session (the registration signs in); undefined when an account was linked. */
  cookie?: string;
}

/** Adds `person` to `org` as `admin` (a sudo cookie or an admin token): links an account, or invites and registers. */
export async function addPerson(
  admin: { cookie?: string; token?: string },
  org: string,
  person: Person,
): Promise<Joined> {
  const { email, role, group, permissions } = person;
  const added = await api("POST", `/api/orgs/${org}/members`, { ...admin, body: { email, role, group, permissions } });
  if (added.status === 201) return { id: added.body.id, userId: added.body.user.id };
  if (added.status !== 202) throw new Error(`adding ${email} failed: ${added.status} ${JSON.stringify(added.body)}`);
  const joined = await register(added.body.secret, person.name ?? email.split("@")[0]!, person.password);
  if (joined.status !== 201)
    throw new Error(`registering ${email} failed: ${joined.status} ${JSON.stringify(joined.body)}`);
  return { id: joined.body.member.id, userId: joined.body.user.id, cookie: joined.setCookie! };
}

export const register = (secret: string, name: string, password: string): Promise<Answer> =>
  api("POST", "/api/invitations/register", { body: { secret, name, password } });
