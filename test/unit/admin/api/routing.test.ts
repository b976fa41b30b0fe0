import { describe, expect, it } from "vitest";
import { compileTemplate, matchRoute, type RouteSpec } from "../../../../src/admin/api/routing.js";

const routes: RouteSpec[] = [
  { method: "GET", template: "/admin/queue/jobs/{id}" },
  { method: "DELETE", template: "/admin/queue/jobs/{id}" },
  { method: "POST", template: "/admin/queue/jobs/{id}/retry" },
  { method: "GET", template: "/admin/openapi.json" },
];

describe("compileTemplate", () => {
  it("captures each parameter and escapes the rest", () => {
    const { names, pattern } = compileTemplate("/admin/openapi.json");
    expect(names).toEqual([]);
    expect(pattern.test("/admin/openapi.json")).toBe(true);
    expect(pattern.test("/admin/openapiXjson")).toBe(false);
    expect(compileTemplate("/a/{x}/b/{y}").names).toEqual(["x", "y"]);
  });
});

describe("matchRoute", () => {
  it("finds the route and decodes its parameters", () => {
    const match = matchRoute(routes, "POST", "/admin/queue/jobs/job%2D7/retry");
    expect(match).toEqual({ kind: "found", route: routes[2], params: { id: "job-7" } });
  });

  it("tells a known path with another method from an unknown path", () => {
    expect(matchRoute(routes, "PUT", "/admin/queue/jobs/job-7")).toEqual({
      kind: "method-not-allowed",
      allow: ["GET", "DELETE"],
    });
    expect(matchRoute(routes, "GET", "/admin/queue/jobs/a/b")).toEqual({ kind: "not-found" });
  });

  it("treats a segment that is not valid percent-encoding as naming nothing", () => {
    expect(matchRoute(routes, "GET", "/admin/queue/jobs/%E0%A4%A")).toEqual({ kind: "not-found" });
  });
});
