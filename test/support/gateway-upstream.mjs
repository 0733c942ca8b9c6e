// The upstream behind the gateway in test/gateway.test.ts: an auxiliary Worker (vitest.config.ts)
// that reports exactly what reached it. `x-upstream-mode` picks a behaviour; by default it echoes.
export default {
  async fetch(request) {
    const mode = request.headers.get("x-upstream-mode");
    if (mode === "stream")
      return new Response(request.body, { headers: { "content-type": "application/octet-stream" } });
    if (mode === "slow") {
      await new Promise((resolve) => setTimeout(resolve, 10_000));
      return new Response("too late");
    }
    if (mode === "redirect")
      return new Response(null, { status: 302, headers: { location: "https://upstream.test/elsewhere" } });
    if (mode === "cookies") {
      const headers = new Headers();
      headers.append("set-cookie", "tessera_session=planted; Path=/; HttpOnly");
      headers.append("set-cookie", "upstream_pref=dark; Path=/");
      headers.set("connection", "close");
      headers.set("x-upstream", "yes");
      return new Response("ok", { headers });
    }
    if (mode === "hostile") {
      // What an org admin's own server could answer to take over a visiting owner's console session.
      const headers = new Headers({
        "content-type": "text/html; charset=utf-8",
        "content-security-policy": "script-src * 'unsafe-inline'",
        "x-content-type-options": "sniff-me",
        "service-worker-allowed": "/",
        "clear-site-data": '"cookies", "storage"',
        refresh: "0; url=https://upstream.test/phish",
        "x-upstream": "yes",
      });
      for (const cookie of [
        "=tessera_session=planted; Path=/",
        "__Host-Tessera_Session=planted; Path=/; Secure",
        " tessera_session =planted",
        "upstream_pref=dark; Path=/",
      ]) {
        headers.append("set-cookie", cookie);
      }
      return new Response("<!doctype html><script>fetch('/api/me')</script>", { headers });
    }
    if (mode === "fail") return new Response("upstream broke", { status: 503 });
    const body = request.body ? new Uint8Array(await request.arrayBuffer()) : null;
    return Response.json({
      method: request.method,
      url: request.url,
      headers: [...request.headers],
      bodyLength: body ? body.length : null,
      body: body ? new TextDecoder().decode(body) : null,
    });
  },
};
