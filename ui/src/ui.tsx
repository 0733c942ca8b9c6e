// Shared building blocks: dialogs (native <dialog>, focus kept inside), fields with their errors,
// status badges, dates, loading and empty states.
import { type ComponentChildren, cloneElement, type VNode } from "preact";
import { useEffect, useId, useRef, useState } from "preact/hooks";
import { ApiError, isCancel } from "./api";
import type { Page as List } from "./client";
import { absolute, relative, STATUS_LABEL, type Status, slugify } from "./format";
import { store, useStore } from "./store";

/** Loads data for a screen; `reload` re-runs it, `set` replaces it after a change. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]) {
  const [state, setState] = useState<{ data?: T; error?: string; loading: boolean }>({ loading: true });
  const seq = useRef(0);
  const run = () => {
    const n = ++seq.current;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => n === seq.current && setState({ data, loading: false }),
      (e) => n === seq.current && setState({ error: message(e), loading: false }),
    );
  };
  useEffect(run, deps);
  return { ...state, reload: run, set: (data: T) => setState({ data, loading: false }) };
}

/**
 * A list read a page at a time: the first page loads with `deps` (as `useLoad`), `loadMore` appends
 * the next one; `reload` starts over from the first.
 */
export function usePaged<T>(page: (cursor?: string) => Promise<List<T>>, deps: unknown[]) {
  const first = useLoad(() => page(), deps);
  const [more, setMore] = useState<List<T> | null>(null);
  useEffect(() => setMore(null), deps);
  const next = more ? more.next : (first.data?.next ?? null);
  return {
    ...first,
    items: [...(first.data?.items ?? []), ...(more?.items ?? [])],
    next,
    reload: () => {
      setMore(null);
      first.reload();
    },
    loadMore: async () => {
      if (!next) return;
      const p = await page(next);
      setMore({ items: [...(more?.items ?? []), ...p.items], next: p.next });
    },
  };
}

/**
 * A component loaded on first use (`import()` makes it a chunk of its own): "Loading…" until it
 * arrives, then the component itself; the module is fetched once.
 */
// biome-ignore lint/suspicious/noExplicitAny: any component's props; the wrapper takes the same ones.
export function lazy<C extends (p: any) => preact.JSX.Element>(load: () => Promise<C>) {
  type P = Parameters<C> extends [infer A extends object] ? A : Record<string, never>;
  let loaded: C | undefined;
  let pending: Promise<unknown> | undefined;
  return function Lazy(props: P) {
    const [, bump] = useState(0);
    const [error, setError] = useState("");
    useEffect(() => {
      if (loaded) return;
      pending ??= load().then((c) => {
        loaded = c;
      });
      pending.then(
        () => bump((n) => n + 1),
        () => {
          pending = undefined;
          setError("This page could not be loaded. Check your connection and reload the page.");
        },
      );
    }, []);
    if (loaded) {
      const Loaded = loaded as (p: P) => preact.JSX.Element;
      return <Loaded {...props} />;
    }
    return error ? <Err text={error} /> : <Loading />;
  };
}

/** The button under a paged list, while there is more to read. */
export function LoadMore(props: { list: { next: string | null; loadMore: () => Promise<void> } }) {
  return props.list.next ? (
    <button type="button" class="more" onClick={props.list.loadMore}>
      Load more
    </button>
  ) : null;
}

export const message = (e: unknown) => (e instanceof Error ? e.message : "Something went wrong.");
export const fieldErrors = (e: unknown): Record<string, string> => (e instanceof ApiError ? e.fields : {});

const FOCUSABLE =
  "a[href],button:not([disabled]),input:not([disabled]),select:not([disabled]),textarea:not([disabled]),[tabindex]:not([tabindex='-1'])";

/** A modal dialog: the page behind is inert, Tab cycles inside, Escape and Close call `onClose`. */
export function Dialog(props: { title: string; onClose: () => void; children: ComponentChildren; wide?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  const id = useId();
  useEffect(() => {
    const d = ref.current!;
    // Focus goes back where it came from (the button that opened the dialog) when it closes.
    const opener = document.activeElement as HTMLElement | null;
    d.showModal();
    return () => {
      d.close();
      opener?.focus();
    };
  }, []);
  const trap = (e: KeyboardEvent) => {
    if (e.key !== "Tab") return;
    const all = [...ref.current!.querySelectorAll<HTMLElement>(FOCUSABLE)].filter((el) => el.offsetParent !== null);
    const first = all[0];
    const last = all[all.length - 1];
    // Past the last control Tab wraps to the first, and Shift+Tab before the first to the last.
    const wrap = e.shiftKey ? document.activeElement === first && last : document.activeElement === last && first;
    if (wrap) {
      e.preventDefault();
      wrap.focus();
    }
  };
  return (
    <dialog
      ref={ref}
      class={props.wide ? "wide" : undefined}
      aria-labelledby={id}
      onKeyDown={trap}
      onCancel={(e) => {
        e.preventDefault();
        props.onClose();
      }}
    >
      <header>
        <h2 id={id}>{props.title}</h2>
        <button type="button" class="icon" aria-label="Close" onClick={props.onClose}>
          ×
        </button>
      </header>
      {props.children}
    </dialog>
  );
}

// Dialogs opened from code (confirmations, the password prompt, the one-time secret) live on a
// stack; closing one drops it, and with it anything it held.
type Opened = { key: number; node: VNode };
const stack = store<Opened[]>([]);
let keys = 0;

export function open<T>(render: (done: (value: T) => void) => VNode): Promise<T> {
  return new Promise((resolve) => {
    const key = ++keys;
    const done = (value: T) => {
      stack.set(stack.get().filter((o) => o.key !== key));
      resolve(value);
    };
    stack.set([...stack.get(), { key, node: render(done) }]);
  });
}

/** Signing out drops every open dialog (and whatever it held) with the session. */
export const closeDialogs = () => stack.set([]);

/** How long a confirmation toast stays: long enough to read a short sentence. */
const TOAST_MS = 4000;
const toasts = store<{ key: number; text: string }[]>([]);

/** A short confirmation after an action ("Token revoked."), announced politely to screen readers. */
export function toast(text: string): void {
  const key = ++keys;
  toasts.set([...toasts.get(), { key, text }]);
  setTimeout(() => toasts.set(toasts.get().filter((t) => t.key !== key)), TOAST_MS);
}

export function DialogHost() {
  const shown = useStore(toasts);
  return (
    <>
      {useStore(stack).map((o) => (
        <div key={o.key}>{o.node}</div>
      ))}
      <div class="toasts" role="status" aria-live="polite">
        {shown.map((t) => (
          <p key={t.key} class="toast">
            {t.text}
          </p>
        ))}
      </div>
    </>
  );
}

/** Runs an action after a confirmation; errors stay in the dialog, in words. Resolves true once done. */
export function confirmAction(opts: {
  title: string;
  body: ComponentChildren;
  action: string;
  danger?: boolean;
  run: () => Promise<unknown>;
}) {
  return formDialog({ ...opts, intro: <div class="body">{opts.body}</div>, fields: [] });
}

/** A labelled control with its hint and its error, which the control points to. */
export function Field(props: {
  label: ComponentChildren;
  /** The API's name for it (or names, space-separated): its errors are matched, focused and cleared by it (useForm). */
  name?: string;
  error?: string;
  hint?: ComponentChildren;
  children: VNode<any>;
}) {
  const id = useId();
  const described = [props.hint && `${id}h`, props.error && `${id}e`].filter(Boolean).join(" ") || undefined;
  return (
    <div class="field" data-field={props.name}>
      <label for={id}>{props.label}</label>
      {cloneElement(props.children, {
        id,
        "aria-invalid": props.error ? "true" : undefined,
        "aria-describedby": described,
      })}
      {props.hint && (
        <small id={`${id}h`} class="hint">
          {props.hint}
        </small>
      )}
      {props.error && (
        <p id={`${id}e`} class="err">
          {props.error}
        </p>
      )}
    </div>
  );
}

export function Err(props: { text?: string | undefined }) {
  return props.text ? (
    <p class="err" role="alert">
      {props.text}
    </p>
  ) : null;
}

export function Badge(props: { status: Status }) {
  return <span class={`badge ${props.status}`}>{STATUS_LABEL[props.status]}</span>;
}

export function Time(props: { iso: string | null; never?: string }) {
  if (!props.iso) return <span class="muted">{props.never ?? "Never"}</span>;
  return (
    <time dateTime={props.iso} title={absolute(props.iso)}>
      {relative(props.iso)}
    </time>
  );
}

export function Loading() {
  return (
    <p class="muted" role="status">
      Loading…
    </p>
  );
}

export function Empty(props: { title: string; children?: ComponentChildren }) {
  return (
    <div class="empty">
      <p>
        <strong>{props.title}</strong>
      </p>
      {props.children}
    </div>
  );
}

/** A screen's heading (focused on arrival, for screen readers) and its main actions. */
export function Page(props: {
  title: string;
  sub?: ComponentChildren;
  actions?: ComponentChildren;
  children: ComponentChildren;
}) {
  const h = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${props.title} · Tessera`;
    h.current?.focus({ preventScroll: true });
  }, [props.title]);
  return (
    <>
      <div class="head">
        <div>
          <h1 tabIndex={-1} ref={h}>
            {props.title}
          </h1>
          {props.sub && <p class="muted">{props.sub}</p>}
        </div>
        {props.actions && <div class="actions">{props.actions}</div>}
      </div>
      {props.children}
    </>
  );
}

/**
 * A form's submit handler with its busy state, its general error and its per-field errors. Field
 * errors show beside the fields that carry `data-field` (Field's `name`), focus moves to the first of
 * them, and each clears as soon as its field changes (`onEdit` on the form); an error for a field the
 * form does not show becomes the general message, so no error is ever dropped.
 */
export function useForm(submit: () => Promise<unknown>) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const [fields, setFields] = useState<Record<string, string>>({});
  const onSubmit = async (e: Event) => {
    e.preventDefault();
    const el = e.currentTarget as HTMLFormElement;
    setBusy(true);
    setError("");
    setFields({});
    try {
      await submit();
    } catch (err) {
      const f = fieldErrors(err);
      const shown = (name: string) => el.querySelector(`[data-field~="${CSS.escape(name)}"]`);
      const unseen = Object.entries(f).filter(([name]) => !shown(name));
      setFields(f);
      if (!isCancel(err) && (Object.keys(f).length === 0 || unseen.length > 0)) setError(message(err));
      // After the errors render: focus the first field that has one.
      requestAnimationFrame(() => {
        const first = Object.keys(f)
          .map(shown)
          .filter((x): x is Element => x !== null)
          .sort((a, b) => (a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1))[0];
        first?.querySelector<HTMLElement>(FOCUSABLE)?.focus();
      });
    }
    setBusy(false);
  };
  /** On the form's input and change events: the edited field's error goes. */
  const onEdit = (e: Event) => {
    const names = (e.target as Element).closest?.("[data-field]")?.getAttribute("data-field")?.split(" ") ?? [];
    if (names.some((n) => fields[n] !== undefined))
      setFields((f) => Object.fromEntries(Object.entries(f).filter(([k]) => !names.includes(k))));
  };
  return { busy, error, fields, onSubmit, onEdit };
}

/** Refuses a form before it is sent, with the reason next to the field. */
export function invalid(field: string, text: string): never {
  throw new ApiError(0, "validation_failed", text, { [field]: text });
}

export interface FieldSpec {
  name: string;
  label: string;
  type?: "text" | "email" | "password" | "url" | "textarea" | "select";
  options?: [value: string, label: string][];
  required?: boolean;
  hint?: string;
  value?: string;
  max?: number;
  /** Filled in from another field as a slug ("Acme Corp" -> "acme-corp") until typed into, as setup's slug is. */
  slugOf?: string;
}

/** A small form in a dialog (create a group, rename a token...). Resolves true once `run` succeeded. */
export function formDialog(opts: {
  title: string;
  action: string;
  intro?: ComponentChildren;
  danger?: boolean;
  fields: FieldSpec[];
  run: (v: Record<string, string>) => Promise<unknown>;
}) {
  return open<boolean>((done) => <FormDialog {...opts} done={done} />);
}

function FormDialog(props: Parameters<typeof formDialog>[0] & { done: (ok: boolean) => void }) {
  const [values, setValues] = useState(() =>
    Object.fromEntries(props.fields.map((f) => [f.name, f.value ?? f.options?.[0]?.[0] ?? ""])),
  );
  const [typed, setTyped] = useState(new Set<string>());
  const form = useForm(async () => {
    // Refused in words rather than cut silently by maxLength (a pasted 101-character name).
    for (const f of props.fields) {
      const n = values[f.name]?.length ?? 0;
      if (f.max && n > f.max) invalid(f.name, `At most ${f.max} characters; this has ${n}.`);
    }
    await props.run(values);
    props.done(true);
  });
  const edit = (name: string, value: string) => {
    setTyped((t) => new Set(t).add(name));
    setValues((v) => {
      const next = { ...v, [name]: value };
      for (const f of props.fields)
        if (f.slugOf === name && !typed.has(f.name)) next[f.name] = slugify(value).slice(0, f.max ?? 64);
      return next;
    });
  };
  return (
    <Dialog title={props.title} onClose={() => props.done(false)}>
      <form onSubmit={form.onSubmit} onInput={form.onEdit} onChange={form.onEdit}>
        {props.intro}
        {props.fields.map((f, i) => {
          const common = {
            value: values[f.name],
            required: f.required,
            autofocus: i === 0,
            onInput: (e: Event) => edit(f.name, (e.currentTarget as HTMLInputElement).value),
          };
          return (
            <Field label={f.label} name={f.name} hint={f.hint} error={form.fields[f.name]}>
              {f.type === "textarea" ? (
                <textarea {...common} rows={3} />
              ) : f.type === "select" ? (
                <select {...common}>
                  {f.options!.map(([v, l]) => (
                    <option value={v}>{l}</option>
                  ))}
                </select>
              ) : (
                <input {...common} type={(f.type ?? "text") as "text"} autocomplete="off" />
              )}
            </Field>
          );
        })}
        <Err text={form.error} />
        <footer>
          <button type="button" onClick={() => props.done(false)}>
            Cancel
          </button>
          <button type="submit" class={props.danger ? "danger" : "primary"} disabled={form.busy}>
            {form.busy ? "Working…" : props.action}
          </button>
        </footer>
      </form>
    </Dialog>
  );
}
