import { describe, expect, it } from "vitest";
import { pickRedeliveries, type HookDelivery } from "../../../src/intake/delivery-recovery.js";

const NOW = Date.parse("2024-05-01T12:00:00Z");
const HOUR = 3_600_000;
const NOTHING = new Set<string>();

function attempt(fields: Partial<HookDelivery> & Pick<HookDelivery, "id" | "guid">): HookDelivery {
  return {
    deliveredAt: NOW - 60_000,
    redelivery: false,
    statusCode: 502,
    event: "workflow_job",
    action: "queued",
    ...fields,
  };
}

const ids = (picked: HookDelivery[]) => picked.map((d) => d.id);

describe("pickRedeliveries", () => {
  it("picks an event that no attempt delivered", () => {
    const lost = attempt({ id: 1, guid: "a" });
    expect(pickRedeliveries([lost], NOTHING, NOW, HOUR)).toEqual([lost]);
  });

  it("skips an event one attempt of which was answered with a 2xx", () => {
    const deliveries = [
      attempt({ id: 3, guid: "a", redelivery: true, statusCode: 500, deliveredAt: NOW - 1_000 }),
      attempt({ id: 2, guid: "a", redelivery: true, statusCode: 204, deliveredAt: NOW - 2_000 }),
      attempt({ id: 1, guid: "a", statusCode: 0, deliveredAt: NOW - 3_000 }),
      attempt({ id: 4, guid: "b", statusCode: 200 }),
      attempt({ id: 5, guid: "c", statusCode: 299 }),
    ];
    expect(pickRedeliveries(deliveries, NOTHING, NOW, HOUR)).toEqual([]);
  });

  it("treats status codes outside 200-299 (and 0, unreachable) as failures", () => {
    const deliveries = [199, 300, 404, 0].map((statusCode, i) => attempt({ id: i + 1, guid: `g${i}`, statusCode }));
    expect(ids(pickRedeliveries(deliveries, NOTHING, NOW, HOUR))).toEqual([1, 2, 3, 4]);
  });

  it("returns one attempt per event: the most recent", () => {
    const deliveries = [
      attempt({ id: 12, guid: "a", redelivery: true, deliveredAt: NOW - 10_000 }),
      attempt({ id: 11, guid: "a", redelivery: true, deliveredAt: NOW - 20_000 }),
      attempt({ id: 10, guid: "a", deliveredAt: NOW - 30_000 }),
    ];
    expect(ids(pickRedeliveries(deliveries, NOTHING, NOW, HOUR))).toEqual([12]);
  });

  it("breaks a tie in delivery time (1 s resolution) by the larger id", () => {
    const deliveries = [
      attempt({ id: 20, guid: "a", deliveredAt: NOW - 5_000 }),
      attempt({ id: 21, guid: "a", redelivery: true, deliveredAt: NOW - 5_000 }),
    ];
    expect(ids(pickRedeliveries(deliveries, NOTHING, NOW, HOUR))).toEqual([21]);
  });

  it("leaves events as old as maxAgeMs or older, counting from the original attempt", () => {
    const deliveries = [
      attempt({ id: 1, guid: "old", deliveredAt: NOW - HOUR }),
      attempt({ id: 2, guid: "old", redelivery: true, deliveredAt: NOW - 1_000 }),
      attempt({ id: 3, guid: "young", deliveredAt: NOW - HOUR + 1 }),
    ];
    expect(ids(pickRedeliveries(deliveries, NOTHING, NOW, HOUR))).toEqual([3]);
  });

  it("skips an event whose original attempt is not listed (its history is incomplete)", () => {
    const deliveries = [attempt({ id: 9, guid: "a", redelivery: true, deliveredAt: NOW - 1_000 })];
    expect(pickRedeliveries(deliveries, NOTHING, NOW, HOUR)).toEqual([]);
  });

  it("ignores events other than workflow_job and keeps every workflow_job action", () => {
    const deliveries = [
      attempt({ id: 1, guid: "ping", event: "ping", action: null }),
      attempt({ id: 2, guid: "inst", event: "installation", action: "created" }),
      attempt({ id: 3, guid: "q", action: "queued" }),
      attempt({ id: 4, guid: "w", action: "waiting" }),
      attempt({ id: 5, guid: "p", action: "in_progress" }),
      attempt({ id: 6, guid: "c", action: "completed" }),
    ];
    expect(ids(pickRedeliveries(deliveries, NOTHING, NOW, HOUR))).toEqual([3, 4, 5, 6]);
  });

  it("skips guids already redelivered", () => {
    const deliveries = [attempt({ id: 1, guid: "a" }), attempt({ id: 2, guid: "b" })];
    expect(ids(pickRedeliveries(deliveries, new Set(["a"]), NOW, HOUR))).toEqual([2]);
  });

  it("orders by the event's original time, oldest first, whatever the order of the input and the retries", () => {
    const deliveries = [
      // newest first, as GitHub lists them
      attempt({ id: 40, guid: "queued-retried", redelivery: true, deliveredAt: NOW - 1_000 }),
      attempt({ id: 31, guid: "completed", action: "completed", deliveredAt: NOW - 5_000 }),
      attempt({ id: 30, guid: "in-progress", action: "in_progress", deliveredAt: NOW - 5_000 }),
      attempt({ id: 20, guid: "queued-retried", deliveredAt: NOW - 9_000 }),
      attempt({ id: 10, guid: "queued", deliveredAt: NOW - 20_000 }),
    ];
    expect(ids(pickRedeliveries(deliveries, NOTHING, NOW, HOUR))).toEqual([10, 40, 30, 31]);
  });

  it("does not change its input", () => {
    const deliveries = [
      attempt({ id: 2, guid: "b", deliveredAt: NOW - 1_000 }),
      attempt({ id: 1, guid: "a", deliveredAt: NOW - 2_000 }),
    ];
    const copy = structuredClone(deliveries);
    pickRedeliveries(deliveries, NOTHING, NOW, HOUR);
    expect(deliveries).toEqual(copy);
  });
});
