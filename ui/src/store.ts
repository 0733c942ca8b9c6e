import { useEffect, useState } from "preact/hooks";

/** A value with subscribers: the console's few pieces of shared state (route, caller, open dialogs). */
export interface Store<T> {
  get(): T;
  set(value: T): void;
  sub(fn: () => void): () => void;
}

export function store<T>(value: T): Store<T> {
  const subs = new Set<() => void>();
  return {
    get: () => value,
    set(next) {
      value = next;
      for (const fn of [...subs]) fn();
    },
    sub(fn) {
      subs.add(fn);
      return () => {
        subs.delete(fn);
      };
    },
  };
}

export function useStore<T>(s: Store<T>): T {
  const [, bump] = useState(0);
  useEffect(() => s.sub(() => bump((n) => n + 1)), [s]);
  return s.get();
}
