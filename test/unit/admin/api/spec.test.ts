import { describe, expect, it } from "vitest";
import { BULL_BOARD_PATH, openApiDocument, ROUTE_DOCS } from "../../../../src/admin/api/spec.js";

type Operation = { responses: Record<string, unknown>; requestBody?: unknown; operationId: string };
const doc = openApiDocument() as {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown> };
  security: unknown;
};

describe("the OpenAPI document", () => {
  it("is OpenAPI 3.1 with bearer security", () => {
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.security).toEqual([{ adminToken: [] }]);
  });

  it("describes every route, each with the answers every route can give", () => {
    for (const route of Object.values(ROUTE_DOCS)) {
      const operation = doc.paths[route.template]?.[route.method.toLowerCase()];
      expect(operation, `${route.method} ${route.template}`).toBeDefined();
      expect(Object.keys(operation?.responses ?? {})).toEqual(expect.arrayContaining(["401", "500", "503"]));
    }
    expect(doc.paths[BULL_BOARD_PATH]?.get?.responses["200"]).toBeDefined();
  });

  it("resolves every schema reference and gives operations unique ids", () => {
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1] ?? "");
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) expect(doc.components.schemas[ref], ref).toBeDefined();
    const ids = Object.values(doc.paths).flatMap((ops) => Object.values(ops).map((op) => op.operationId));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("documents the pool change body from the zod schema, unknown fields refused", () => {
    expect(doc.components.schemas.PoolOverride).toMatchObject({
      type: "object",
      additionalProperties: false,
      properties: { maxRunners: { type: "integer" }, minIdle: { type: "integer" } },
    });
  });
});
