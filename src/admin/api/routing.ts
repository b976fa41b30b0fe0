/** Admin routes are declared as OpenAPI path templates (`/admin/pools/{name}`) and matched here. */

export type Method = "GET" | "POST" | "PATCH" | "DELETE";

export interface RouteSpec {
  method: Method;
  template: string;
}

export type RouteMatch<R extends RouteSpec> =
  | { kind: "found"; route: R; params: Record<string, string> }
  | { kind: "method-not-allowed"; allow: Method[] }
  | { kind: "not-found" };

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** A template's parameter names and a regular expression with one capture per parameter. */
export function compileTemplate(template: string): { names: string[]; pattern: RegExp } {
  const names: string[] = [];
  const source = template
    .split(/(\{[^}]+\})/)
    .map((part) => {
      const param = /^\{([^}]+)\}$/.exec(part);
      if (!param) return escapeRegExp(part);
      names.push(param[1] ?? "");
      return "([^/]+)";
    })
    .join("");
  return { names, pattern: new RegExp(`^${source}$`) };
}

/** The template's parameters in the path; undefined when it does not match (or a segment is not valid percent-encoding, which names nothing). */
function paramsOf(template: string, path: string): Record<string, string> | undefined {
  const { names, pattern } = compileTemplate(template);
  const match = pattern.exec(path);
  if (!match) return undefined;
  const params: Record<string, string> = {};
  try {
    names.forEach((name, index) => {
      params[name] = decodeURIComponent(match[index + 1] ?? "");
    });
  } catch {
    return undefined;
  }
  return params;
}

export function matchRoute<R extends RouteSpec>(routes: readonly R[], method: string, path: string): RouteMatch<R> {
  const allow: Method[] = [];
  for (const route of routes) {
    const params = paramsOf(route.template, path);
    if (params === undefined) continue;
    if (route.method === method) return { kind: "found", route, params };
    allow.push(route.method);
  }
  return allow.length > 0 ? { kind: "method-not-allowed", allow } : { kind: "not-found" };
}
