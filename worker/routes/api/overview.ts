import { Hono } from "hono";
import { orgAccess } from "../../auth/guards";
import type { AppEnv } from "../../env";
import { dbOf, nowOf } from "../../http/context";
import { orgOverview } from "../../tokens/overview";
import { visibleTokens } from "./tokens";

/** `/api/orgs/:org/overview`: the tokens the caller manages at a glance (a group admin: their groups'). */
export const overviewRoutes = new Hono<AppEnv>().get(
  "/:org/overview",
  orgAccess("group_admin", "manage:tokens"),
  async (c) => c.json(await orgOverview(dbOf(c), await visibleTokens(c, {}), nowOf(c))),
);
