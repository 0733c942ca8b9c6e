// The one-time secret: shown once after create, copy and regenerate (and an upstream's signing
// secret after create and rotate, an invitation or password reset link); gone when the dialog closes.
import type { ComponentChildren } from "preact";
import { useRef, useState } from "preact/hooks";
import type { WithSecret } from "../client";
import { slugify } from "../format";
import { Dialog, Field, open } from "../ui";

/** Asked when the secret's dialog closes before it was copied or downloaded; true: close anyway. */
function confirmLoss(what: string): Promise<boolean> {
  return open<boolean>((done) => (
    <Dialog title={`You will not see this ${what} again`} onClose={() => done(false)}>
      <p>
        You have not copied or downloaded it. Once this closes, Tessera cannot show it again
        {what === "token" ? ": you would have to regenerate the token." : "."}
      </p>
      <footer>
        <button type="button" class="primary" autofocus onClick={() => done(false)}>
          Go back
        </button>
        <button type="button" class="danger" onClick={() => done(true)}>
          Close without it
        </button>
      </footer>
    </Dialog>
  ));
}

export interface OneTimeSecret {
  title: string;
  /** The field's label: what the secret is. */
  label: string;
  secret: string;
  /** Offers a download under this name (links have none: they are sent on, not stored). */
  fileName?: string;
  /** Why it is shown once and what to do when it is lost. */
  why: ComponentChildren;
}

export function showOneTimeSecret(shown: OneTimeSecret): Promise<void> {
  return open<void>((done) => <SecretDialog shown={shown} done={done} />);
}

export function showSecret(result: WithSecret): Promise<void> {
  const { token, secret } = result;
  return showOneTimeSecret({
    title: `Your token “${token.name}”`,
    label: "Token",
    secret,
    fileName: `${slugify(token.name) || "token"}.token.txt`,
    why: "Tessera keeps only a hash of it. If you lose it, regenerate the token.",
  });
}

function SecretDialog(props: { shown: OneTimeSecret; done: () => void }) {
  const { title, label, secret, fileName, why } = props.shown;
  const [note, setNote] = useState("");
  // Copied or downloaded: only then may Escape, × or Done close it without asking (it cannot be shown again).
  const kept = useRef(false);
  const field = useRef<HTMLInputElement>(null);
  const close = async () => {
    if (kept.current || (await confirmLoss(label.toLowerCase()))) props.done();
  };
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(secret);
    } catch {
      // Clipboard API refused (permissions): fall back to copying the selected field.
      field.current!.select();
      document.execCommand("copy");
    }
    kept.current = true;
    setNote("Copied to the clipboard.");
  };
  const download = (name: string) => {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([`${secret}\n`], { type: "text/plain" }));
    a.download = name;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
    kept.current = true;
    setNote("Downloaded. Keep the file somewhere safe, or delete it once used.");
  };
  return (
    <Dialog title={title} onClose={close}>
      <p class="warn">
        <strong>Copy it now: you will not see it again.</strong> {why}
      </p>
      <Field label={label}>
        <input ref={field} class="mono" readOnly value={secret} onFocus={(e) => e.currentTarget.select()} />
      </Field>
      <div class="row">
        <button type="button" class="primary" autofocus onClick={copy}>
          Copy
        </button>
        {fileName && (
          <button type="button" onClick={() => download(fileName)}>
            Download
          </button>
        )}
        <span role="status" class="muted">
          {note}
        </span>
      </div>
      <footer>
        <button type="button" onClick={close}>
          Done
        </button>
      </footer>
    </Dialog>
  );
}
