import { describe, expect, it } from "vitest";
import { networkOf } from "../worker/http/network";

describe("networkOf: the unit the throttles count a client by", () => {
  it("keeps an IPv4 address as it is", () => {
    expect(networkOf("198.51.100.7")).toBe("198.51.100.7");
    expect(networkOf("198.51.100.8")).not.toBe(networkOf("198.51.100.7"));
  });

  it("groups an IPv6 address written in full by its /64", () => {
    expect(networkOf("2001:0db8:0000:0001:0000:0000:0000:0001")).toBe("2001:db8:0:1::/64");
    expect(networkOf("2001:DB8:0:1:ffff:ffff:ffff:ffff")).toBe("2001:db8:0:1::/64");
    expect(networkOf("2001:db8:0:2:0:0:0:1")).toBe("2001:db8:0:2::/64");
  });

  it("reads compressed IPv6 forms the same as the full one", () => {
    expect(networkOf("2001:db8::1")).toBe("2001:db8:0:0::/64");
    expect(networkOf("2001:db8::")).toBe("2001:db8:0:0::/64");
    expect(networkOf("2001:db8:0:0:1::")).toBe("2001:db8:0:0::/64");
    expect(networkOf("2001:db8:0:1::abcd")).toBe(networkOf("2001:db8:0:1:1:2:3:4"));
    expect(networkOf("::1")).toBe("0:0:0:0::/64");
    expect(networkOf("fe80::1%eth0")).toBe("fe80:0:0:0::/64");
  });

  it("treats an IPv4-mapped IPv6 address as its IPv4 address", () => {
    expect(networkOf("::ffff:1.2.3.4")).toBe("1.2.3.4");
    expect(networkOf("::FFFF:0102:0304")).toBe("1.2.3.4");
    expect(networkOf("0:0:0:0:0:ffff:1.2.3.4")).toBe("1.2.3.4");
    expect(networkOf("::ffff:1.2.3.5")).not.toBe(networkOf("::ffff:1.2.3.4"));
  });

  it("leaves anything else, such as local development's 'local', as its own network", () => {
    expect(networkOf("local")).toBe("local");
    expect(networkOf("2001:db8::1::2")).toBe("2001:db8::1::2");
    expect(networkOf("1:2:3:4:5:6:7")).toBe("1:2:3:4:5:6:7");
    expect(networkOf("::ffff:1.2.3.999")).toBe("::ffff:1.2.3.999");
  });
});
