// A token's History tab: the audit events about this token, newest first (loaded on demand).
import { AuditTable } from "../audit-view";
import { api, type Scope } from "../client";
import { Empty, Err, Loading, LoadMore, usePaged } from "../ui";

export function TokenHistory(props: { scope: Scope; id: string }) {
  const list = usePaged((cursor) => api.tokenHistory(props.scope, props.id, cursor), [props.id]);
  if (list.error) return <Err text={list.error} />;
  if (!list.data) return <Loading />;
  if (list.items.length === 0) return <Empty title="No events about this token yet." />;
  return (
    <>
      <AuditTable items={list.items} target={false} caption="History of this token" />
      <LoadMore list={list} />
    </>
  );
}
