// A QR code of a link meant for a phone (the authenticator app's otpauth:// link), so the person
// scans it rather than typing a 32-letter key. Drawn by lean-qr as an SVG image: sharp at any size,
// and allowed by the console's CSP (`img-src data:`).
import { generate } from "lean-qr";
import { toSvgDataURL } from "lean-qr/extras/svg";
import { useMemo } from "preact/hooks";

/** The quiet zone the QR standard asks around a code (four modules), so cameras find its edges. */
const QUIET_ZONE_MODULES = 4;

export function QrCode(props: { text: string; label: string }) {
  const src = useMemo(
    () =>
      toSvgDataURL(generate(props.text), {
        on: "black",
        off: "white",
        padX: QUIET_ZONE_MODULES,
        padY: QUIET_ZONE_MODULES,
      }),
    [props.text],
  );
  return <img class="qr" src={src} alt={props.label} />;
}
