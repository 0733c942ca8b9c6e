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
        // Policies a browser keeps for the whole origin, or that report its addresses (a ?session= token in them).
        "content-security-policy-report-only": "default-src 'none'; report-uri https://upstream.test/collect",
        nel: '{"report_to":"spy","max_age":31536000,"include_subdomains":true,"success_fraction":1}',
        "report-to": '{"group":"spy","max_age":31536000,"endpoints":[{"url":"https://upstream.test/collect"}]}',
        "reporting-endpoints": 'spy="https://upstream.test/collect"',
        "referrer-policy": "unsafe-url",
        "strict-transport-security": "max-age=0",
        "alt-svc": 'h3="upstream.test:443"; ma=86400',
        "accept-ch": "Sec-CH-UA-Full-Version-List, Sec-CH-UA-Platform-Version",
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
