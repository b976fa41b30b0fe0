import { describe, expect, it } from "vitest";
import { backoffAfter, classifyCall, serverErrorBackoff } from "../../../src/github/budget.js";

describe("classifyCall", () => {
  it("puts runner registrations and deletions first and prices writes at 5 points", () => {
    expect(classifyCall("POST", "/orgs/acme/actions/runners/generate-jitconfig")).toEqual({
      priority: "runner",
      points: 5,
    });
    expect(classifyCall("POST", "/repos/a/b/actions/runners/registration-token")).toEqual({
      priority: "runner",
      points: 5,
    });
    expect(classifyCall("DELETE", "/orgs/acme/actions/runners/42")).toEqual({ priority: "runner", points: 5 });
    expect(classifyCall("POST", "/app/installations/7/access_tokens")).toEqual({ priority: "runner", points: 5 });
  });

  it("recognises them in the route templates Octokit passes", () => {
    const runner = { priority: "runner", points: 5 };
    expect(classifyCall("DELETE", "/orgs/{org}/actions/runners/{runner_id}")).toEqual(runner);
    expect(classifyCall("DELETE", "/repos/{owner}/{repo}/actions/runners/{runner_id}")).toEqual(runner);
    expect(classifyCall("POST", "/app/installations/{installation_id}/access_tokens")).toEqual(runner);
  });

  it("puts the runner-group lookup a JIT config waits for first, at a read's price", () => {
    const lookup = { priority: "runner", points: 1 };
    expect(classifyCall("GET", "/orgs/{org}/actions/runner-groups")).toEqual(lookup);
    expect(
      classifyCall("GET", "https://ghe.example/api/v3/orgs/acme/actions/runner-groups?per_page=100&page=2"),
    ).toEqual(lookup);
    expect(classifyCall("GET", "/orgs/acme/actions/runner-groups/4/runners")).toEqual({ priority: "other", points: 1 });
    expect(classifyCall("DELETE", "/orgs/acme/actions/runner-groups/4")).toEqual({ priority: "other", points: 5 });
  });

  it("prices reads at 1 point and leaves other writes behind the reserve", () => {
    expect(classifyCall("GET", "/orgs/acme/actions/runners/42")).toEqual({ priority: "other", points: 1 });
    expect(classifyCall("GET", "/orgs/acme/actions/runners?per_page=100")).toEqual({ priority: "other", points: 1 });
    expect(classifyCall("POST", "/app/hook/deliveries/7/attempts")).toEqual({ priority: "other", points: 5 });
  });
});

describe("backoffAfter", () => {
  const now = 1_700_000_000_000;
  const error = (status: number, headers: Record<string, string>, message = "") => ({
    status,
    message,
    response: { headers },
  });

  it("takes retry-after in seconds", () => {
    expect(backoffAfter(error(429, { "retry-after": "7" }), now)).toBe(7_000);
    expect(backoffAfter(error(403, { "retry-after": "0" }, "secondary rate limit"), now)).toBe(1_000);
  });

  it("waits for the reset of a spent primary limit", () => {
    const reset = String((now + 42_000) / 1000);
    expect(backoffAfter(error(403, { "x-ratelimit-remaining": "0", "x-ratelimit-reset": reset }), now)).toBe(42_000);
  });

  it("waits a minute for a secondary limit without headers, and not at all for other errors", () => {
    expect(backoffAfter(error(403, {}, "You have exceeded a secondary rate limit"), now)).toBe(60_000);
    expect(backoffAfter(error(403, {}, "Resource not accessible by integration"), now)).toBeUndefined();
    expect(backoffAfter(error(404, { "retry-after": "1" }), now)).toBeUndefined();
    expect(backoffAfter(new Error("socket hang up"), now)).toBeUndefined();
  });
});

describe("serverErrorBackoff", () => {
  it("waits 1 s, then 4 s, for a 5xx or a request without an answer (Octokit's status 500), then gives up", () => {
    expect(serverErrorBackoff({ status: 502 }, 1)).toBe(1_000);
    expect(serverErrorBackoff({ status: 500 }, 2)).toBe(4_000);
    expect(serverErrorBackoff({ status: 503 }, 3)).toBeUndefined();
  });

  it("never tries a client error or a thrown value without a status again", () => {
    for (const status of [400, 403, 404, 409, 422, 429]) expect(serverErrorBackoff({ status }, 1)).toBeUndefined();
    expect(serverErrorBackoff(new Error("boom"), 1)).toBeUndefined();
  });
});
