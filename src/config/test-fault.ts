/**
 * A test-only fault point: RUNNERHUB_TEST_FAULT=kill-after:<step> makes a worker kill itself
 * (SIGKILL) right after that provisioning step, so the fault suite can show that every step is
 * re-entrant. Honoured only with NODE_ENV=test; set otherwise it stops the start with an error.
 */
export const PROVISION_STEPS = ["record-written", "registered", "slot-confirmed", "container-started"] as const;
export type ProvisionStep = (typeof PROVISION_STEPS)[number];

const FAULT = new RegExp(`^kill-after:(${PROVISION_STEPS.join("|")})$`);

/** The step to die after; a problem message when the variable is set but not usable. */
export function parseTestFault(
  value: string | undefined,
  nodeEnv: string | undefined,
): { step: ProvisionStep | undefined } | { problem: string } {
  if (!value) return { step: undefined };
  if (nodeEnv !== "test") {
    return { problem: "RUNNERHUB_TEST_FAULT: a test-only fault point, honoured only with NODE_ENV=test; unset it" };
  }
  const step = FAULT.exec(value)?.[1] as ProvisionStep | undefined;
  if (!step) {
    return { problem: `RUNNERHUB_TEST_FAULT: "${value}" is not kill-after:<${PROVISION_STEPS.join("|")}>` };
  }
  return { step };
}
