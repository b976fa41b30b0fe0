import { describe, expect, it } from "vitest";
import { checkToken, presentedToken, tokenDigest } from "../../../src/http/auth.js";

const TOKEN = "0123456789abcdef-admin";
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

describe("presentedToken", () => {
  it("takes a bearer token, whatever the scheme's case", () => {
    expect(presentedToken(`Bearer ${TOKEN}`)).toBe(TOKEN);
    expect(presentedToken(`bearer ${TOKEN}`)).toBe(TOKEN);
  });

  it("does not take HTTP Basic (browsers log in once instead)", () => {
    expect(presentedToken(basic("admin", TOKEN))).toBeUndefined();
  });

  it("finds nothing in a missing or malformed header", () => {
    expect(presentedToken(undefined)).toBeUndefined();
    expect(presentedToken("Bearer")).toBeUndefined();
    expect(presentedToken(TOKEN)).toBeUndefined();
    expect(presentedToken(`Token ${TOKEN}`)).toBeUndefined();
  });
});

describe("checkToken", () => {
  const expected = tokenDigest(TOKEN);

  it("accepts the token and tells a missing one from a wrong one", () => {
    expect(checkToken(TOKEN, expected)).toBe("ok");
    expect(checkToken(undefined, expected)).toBe("missing");
    expect(checkToken("", expected)).toBe("missing");
    expect(checkToken(`${TOKEN}x`, expected)).toBe("wrong");
    expect(checkToken("short", expected)).toBe("wrong");
  });
});
