/**
 * Shared by the tests that run the real `vigil` program (server/bin/vigil.js over
 * server/dist) as a child process: cli.test.ts, users-cli-offline.test.ts, rules-cli.test.ts
 * and reports-cli.test.ts. The run's global set-up (test/global-setup.ts) has brought every
 * dist up to date. Not built into dist.
 */
import { spawn } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
export const VIGIL_BIN = path.join(REPO, 'server', 'bin', 'vigil.js')

export interface CliRun {
  code: number | null
  stdout: string
  stderr: string
}

/** This process's environment for a run on `dataDir`: no inherited port or data dir, quiet logs. */
export function vigilEnv(dataDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const { VIGIL_PORT: _p, VIGIL_DATA_DIR: _d, ...rest } = process.env
  return { ...rest, VIGIL_DATA_DIR: dataDir, VIGIL_LOG_LEVEL: 'warn', ...extra }
}

/** Runs `vigil <args>` on `dataDir` to its end. */
export function runVigil(dataDir: string, args: readonly string[], extra: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [VIGIL_BIN, ...args], { cwd: dataDir, env: vigilEnv(dataDir, extra) })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()))
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}
