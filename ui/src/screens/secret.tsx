// The one-time secret: shown once after create, copy and regenerate; gone when the dialog closes.
import { useRef, useState } from "preact/hooks";
import type { WithSecret } from "../client";
import { slugify } from "../format";
import { Dialog, Field, open } from "../ui";

export function showSecret(result: WithSecret): Promise<void> {
  return open<void>((done) => <SecretDialog result={result} done={done} />);
}

function SecretDialog(props: { result: WithSecret; done: () => void }) {
  const { token, secret } = props.result;
  const [note, setNote] = useState("");
  const field = useRef<HTMLInputElement>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(secret);
    } catch {
      // Clipboard API refused (permissions): fall back to copying the selected field.
      field.current!.select();
      document.execCommand("copy");
    }
    setNote("Copied to the clipboard.");
  };
  const download = () => {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([`${secret}\n`], { type: "text/plain" }));
    a.download = `${slugify(token.name) || "token"}.token.txt`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
    setNote("Downloaded. Keep the file somewhere safe, or delete it once used.");
  };
  return (
    <Dialog title={`Your token “${token.name}”`} onClose={props.done}>
      <p class="warn">
        <strong>Copy it now: you will not see it again.</strong> Tessera keeps only a hash of it. If you lose it, regenerate the
        token.
      </p>
      <Field label="Token">
        <input ref={field} class="mono" readOnly value={secret} onFocus={(e) => e.currentTarget.select()} />
      </Field>
      <div class="row">
        <button type="button" class="primary" onClick={copy}>
          Copy
        </button>
        <button type="button" onClick={download}>
          Download
        </button>
        <span role="status" class="muted">
          {note}
        </span>
      </div>
      <footer>
        <button type="button" onClick={props.done}>
          Done
        </button>
      </footer>
    </Dialog>
  );
}
