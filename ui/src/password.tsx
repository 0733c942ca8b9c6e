// The console's password boxes, written once: the browser's password manager is told which password
// is asked for (the current one, or one being chosen), and a chosen one is held to the server's least
// length before it is sent.
import type { InputHTMLAttributes } from "preact";
import { PASSWORD_MIN } from "../../worker/accounts/limits";

/** The rule a chosen password's hint starts with. */
export const PASSWORD_RULE = `At least ${PASSWORD_MIN} characters.`;

export function PasswordInput(
  // `id` and the aria attributes come from Field, which labels the box and points it to its hint and error.
  props: Pick<
    InputHTMLAttributes<HTMLInputElement>,
    "id" | "autofocus" | "readOnly" | "aria-invalid" | "aria-describedby"
  > & {
    /** A password being chosen (sign-up, reset, change), not the one already held. */
    choosing?: boolean;
    value: string;
    onValue: (value: string) => void;
  },
) {
  const { choosing, onValue, ...input } = props;
  return (
    <input
      {...input}
      type="password"
      autocomplete={choosing ? "new-password" : "current-password"}
      required
      minLength={choosing ? PASSWORD_MIN : undefined}
      onInput={(e) => onValue(e.currentTarget.value)}
    />
  );
}
