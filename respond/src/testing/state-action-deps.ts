/**
 * ActionDeps for the tests of the state actions (revoke_key, restore_key, kill_switch,
 * open_incident, attach_alert): every store real — chDB with respond's migrations, the
 * control log, audit chain, key states, kill-switches and incidents on the test Redis under
 * a random prefix — and a logger whose lines the test can read.
 */
import type { ActionDeps } from '../action.js'
import { captureLogger } from '../actions/conformance.js'
import { startRespondHarness, type RespondHarness } from '../test-support.js'
import { createAuditLog, type AuditLogStore } from '../audit-log.js'
import { createControlLog, type ControlLog } from '../control-log.js'
import { createKeyStateStore } from '../key-states.js'
import { createKillSwitchStore } from '../killswitches.js'
import { createIncidentStore } from '../incidents.js'

export interface StateActionDeps {
  deps: ActionDeps
  harness: RespondHarness
  audit: AuditLogStore
  control: ControlLog
  logs(): string
  close(): Promise<void>
}

export async function stateActionDeps(): Promise<StateActionDeps> {
  const harness = await startRespondHarness()
  const { store, redis, prefix, config } = harness
  const audit = createAuditLog({ store, redis, keyPrefix: `${prefix}:` })
  const control = createControlLog({ store, redis, keyPrefix: `${prefix}:` })
  const { logger, text } = captureLogger()
  const deps: ActionDeps = {
    config,
    logger,
    redis,
    keys: createKeyStateStore({ store, control, audit }),
    killswitches: createKillSwitchStore({ store, control, audit }),
    incidents: createIncidentStore({ store, redis, audit, keyPrefix: `${prefix}:` }),
    audit,
  }
  return {
    deps,
    harness,
    audit,
    control,
    logs: text,
    async close() {
      await control.idle()
      await audit.idle()
      await control.close()
      await harness.close()
    },
  }
}
