// A searchable list of checkboxes with an "Only checked" filter: project and permission pickers.
import { useState } from "preact/hooks";
import { matches } from "../format";
import { Dialog, open } from "../ui";

/** `chosen` with `key` checked if it was not, unchecked if it was. */
export function toggled(chosen: Set<string>, key: string): Set<string> {
  const next = new Set(chosen);
  if (!next.delete(key)) next.add(key);
  return next;
}

export function CheckList(props: {
  what: string;
  items: [key: string, text: string][];
  chosen: Set<string>;
  onChange: (s: Set<string>) => void;
  autofocus?: boolean;
}) {
  const [q, setQ] = useState("");
  const [only, setOnly] = useState(false);
  const visible = props.items.filter(([key, text]) => matches(q, key, text) && (!only || props.chosen.has(key)));
  return (
    <div class="checklist">
      <div class="row">
        <input
          type="search"
          aria-label={`Search ${props.what}`}
          placeholder={`Search ${props.what}`}
          autofocus={props.autofocus}
          value={q}
          onInput={(e) => setQ(e.currentTarget.value)}
        />
        <label>
          <input type="checkbox" checked={only} onChange={() => setOnly(!only)} /> Only checked
        </label>
        <span class="muted" aria-live="polite">
          {props.chosen.size} selected
        </span>
      </div>
      <ul>
        {visible.map(([key, text]) => (
          <li key={key}>
            <label>
              <input
                type="checkbox"
                checked={props.chosen.has(key)}
                onChange={() => props.onChange(toggled(props.chosen, key))}
              />{" "}
              <code>{key}</code> <span class="muted">{text}</span>
            </label>
          </li>
        ))}
      </ul>
      {visible.length === 0 && (
        <p class="muted">{only ? `No checked ${props.what}.` : `No ${props.what} match “${q}”.`}</p>
      )}
    </div>
  );
}

/** The project selection dialog; resolves to the chosen keys, or null when cancelled. */
export function pickProjects(
  items: [key: string, name: string][],
  selected: string[],
  action = "Select",
): Promise<string[] | null> {
  return open((done) => <Picker items={items} selected={selected} action={action} done={done} />);
}

function Picker(props: {
  items: [string, string][];
  selected: string[];
  action: string;
  done: (keys: string[] | null) => void;
}) {
  const [chosen, setChosen] = useState(new Set(props.selected));
  return (
    <Dialog title="Select projects" wide onClose={() => props.done(null)}>
      <CheckList what="projects" items={props.items} chosen={chosen} onChange={setChosen} autofocus />
      <footer>
        <button type="button" onClick={() => props.done(null)}>
          Cancel
        </button>
        <button type="button" class="primary" disabled={chosen.size === 0} onClick={() => props.done([...chosen])}>
          {props.action} {chosen.size} {chosen.size === 1 ? "project" : "projects"}
        </button>
      </footer>
    </Dialog>
  );
}
