// Problems in YAML data files validated by a JSON Schema (detection rules in detect,
// playbooks in respond): how an ajv error reads to the person editing the file, and the one
// line a problem prints as. Both workspaces' loaders, linters and CLIs rely on these
// messages staying byte-for-byte stable; their tests compare exact strings.
import { existsSync, readdirSync, statSync } from 'node:fs'
import path from 'node:path'
import type { ErrorObject } from 'ajv'

/** Where in the file (a JSON pointer, `/` for the document itself) and what is wrong there. */
export interface SchemaProblem {
  path: string
  message: string
}

/** How one kind of data file words what the schema alone cannot say. */
export interface SchemaErrorStyle {
  /**
   * Quotes the offending value inside a message.
   * @defaultValue `JSON.stringify`
   */
  quote?: (v: unknown) => string
  /**
   * The message for a value matching no branch of a union that is not a plain enum.
   * @defaultValue `'is not of an allowed form (number, string, boolean, list or map of those)'`
   */
  unionMessage?: string
  /**
   * Longest unknown key echoed in a path, for files whose keys an attacker may choose.
   * @defaultValue no limit
   */
  maxKeyLength?: number
}

const quoteJson = (v: unknown) => JSON.stringify(v)

/**
 * One ajv error as the file's editor should read it, or undefined when another error
 * already says it (a union's branches, an `if`). `hints` maps a schema pattern, exactly as
 * written in the schema, to what a value failing it is not (`'is not a date (YYYY-MM-DD)'`).
 */
export function describeSchemaError(e: ErrorObject, hints: Readonly<Record<string, string>>, style: SchemaErrorStyle = {}): SchemaProblem | undefined {
  const quote = style.quote ?? quoteJson
  const at = e.instancePath
  // A union's own error says it all; its branches' errors only repeat it.
  if (e.schemaPath.includes('/anyOf/')) return undefined
  switch (e.keyword) {
    case 'if':
      return undefined
    case 'required':
      return { path: `${at}/${(e.params as { missingProperty: string }).missingProperty}`, message: 'is required' }
    case 'additionalProperties': {
      const key = (e.params as { additionalProperty: string }).additionalProperty
      return { path: `${at}/${style.maxKeyLength === undefined ? key : String(key).slice(0, style.maxKeyLength)}`, message: 'is not a known key' }
    }
    case 'anyOf': {
      const branches = (e.parentSchema as { anyOf?: Array<{ const?: unknown }> } | undefined)?.anyOf ?? []
      if (branches.length > 0 && branches.every((b) => b.const !== undefined)) {
        return { path: at || '/', message: `${quote(e.data)} must be one of ${branches.map((b) => String(b.const)).join(', ')}` }
      }
      return { path: at || '/', message: style.unionMessage ?? 'is not of an allowed form (number, string, boolean, list or map of those)' }
    }
    case 'pattern': {
      const hint = hints[(e.params as { pattern: string }).pattern]
      return { path: at || '/', message: hint ? `${quote(e.data)} ${hint}` : (e.message ?? 'is invalid') }
    }
    case 'minLength':
      if ((e.params as { limit: number }).limit === 1) return { path: at || '/', message: 'must not be empty' }
      break
    case 'minItems': {
      const n = (e.params as { limit: number }).limit
      return { path: at || '/', message: `must have at least ${n} item${n === 1 ? '' : 's'}` }
    }
  }
  return { path: at || '/', message: e.message ?? 'is invalid' }
}

/** Every ajv error described, each distinct path and message once, in ajv's order. */
export function schemaProblems(
  errors: readonly ErrorObject[] | null | undefined,
  hints: Readonly<Record<string, string>>,
  style: SchemaErrorStyle = {},
): SchemaProblem[] {
  const seen = new Set<string>()
  const out: SchemaProblem[] = []
  for (const e of errors ?? []) {
    const d = describeSchemaError(e, hints, style)
    if (!d) continue
    const key = `${d.path} ${d.message}`
    if (seen.has(key)) continue
    seen.add(key)
    out.push(d)
  }
  return out
}

/** One line per problem, as the CLIs print it: `file: path message`, or `file: message` without a path. */
export function formatFileProblem(p: { file: string; path?: string; message: string }): string {
  return `${p.file}: ${p.path ? `${p.path} ` : ''}${p.message}`
}

/** Every entry of a data folder that is a file and not hidden, sorted; absolute paths. `[]` when the folder does not exist. */
export function listDataFiles(dir: string): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir)
    .filter((name) => !name.startsWith('.'))
    .map((name) => path.join(dir, name))
    .filter((file) => statSync(file).isFile())
    .sort()
}
